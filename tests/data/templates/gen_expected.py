#!/usr/bin/env python3
"""Regenerates tests/data/templates/expected/ from the reference renderer.

The expected prompts are what Hugging Face's apply_chat_template produces:
Jinja2's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, the
loopcontrols extension, tojson = json.dumps(ensure_ascii=False) and the
raise_exception / strftime_now globals. Needs python3-jinja2; CI does not run
this script, it only compares against the files it wrote. A template error
is stored as a file whose first line is "ERROR" followed by the message.
Templates whose output depends on today's date (strftime_now) are rendered
only for conversations that pass date_string."""
import datetime, glob, json, os, sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(msg):
    raise jinja2.exceptions.TemplateError(msg)


def render(src, conv):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters['tojson'] = tojson
    env.globals['raise_exception'] = raise_exception
    env.globals['strftime_now'] = lambda f: datetime.datetime.now().strftime(f)
    v = dict(conv.get('extra', {}))
    v.update(messages=conv['messages'], tools=conv.get('tools'), documents=None,
             add_generation_prompt=conv['add_generation_prompt'], bos_token=conv['bos_token'],
             eos_token=conv['eos_token'])
    try:
        return env.from_string(src).render(**v)
    except Exception as e:  # template errors and Python type errors alike
        return 'ERROR\n%s' % e


def main():
    for t in sorted(glob.glob(os.path.join(HERE, '*.jinja'))):
        name = os.path.basename(t)[:-len('.jinja')]
        src = open(t, encoding='utf-8').read()
        for c in sorted(glob.glob(os.path.join(HERE, 'conv', '*.json'))):
            cname = os.path.basename(c)[:-len('.json')]
            conv = json.load(open(c, encoding='utf-8'))
            if 'strftime_now' in src and 'date_string' not in conv.get('extra', {}):
                continue
            out = render(src, conv)
            with open(os.path.join(HERE, 'expected', '%s.%s.txt' % (name, cname)), 'w',
                      encoding='utf-8', newline='') as f:
                f.write(out)


if __name__ == '__main__':
    sys.exit(main())
