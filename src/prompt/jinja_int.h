/* prompt: private layout of the Jinja renderer — values, arena, AST nodes,
 * lexer tokens and the render context shared by jinja_*.c.
 *
 * Memory: every value and AST node lives in an arena (the template's for the
 * AST, one per render for values); nothing is freed one by one and nothing
 * is reference counted. The render arena is capped, which together with the
 * step counter bounds what a hostile template can cost. */
#ifndef JINJA_INT_H
#define JINJA_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "prompt/jinja.h"

/* ---- arena ---- */
struct jarena_chunk;
struct jarena {
    struct jarena_chunk *head;
    size_t used, cap; /* bytes handed out so far, and the bound (0: none) */
    bool over;        /* an allocation hit the bound */
};
void jarena_init(struct jarena *a, size_t cap);
void jarena_close(struct jarena *a);
/* NULL only when the bound is hit (a->over set); aborts on real OOM. */
void *jarena_alloc(struct jarena *a, size_t n);

/* ---- growable byte buffer (malloc'd, capped at JINJA_MAX_OUTPUT) ---- */
struct jbuf {
    char *p;
    size_t len, cap;
    bool over;
};
void jbuf_put(struct jbuf *b, const char *s, size_t n);
void jbuf_putc(struct jbuf *b, char c);
void jbuf_free(struct jbuf *b);

/* ---- values ---- */
enum jv_kind { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_DICT, JV_FUNC };

struct jstr {
    size_t len;
    char s[]; /* NUL-terminated */
};
struct jv;
struct jlist {
    size_t n, cap;
    struct jv *v;
    bool tuple;
};
struct jdict {
    size_t n, cap;
    struct jv *k, *v;
    bool ns; /* namespace(): attributes may be set */
};
struct jfunc;
struct jv {
    uint8_t kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct jstr *s;
        struct jlist *l;
        struct jdict *d;
        struct jfunc *fn;
    } u;
};

static inline struct jv jv_undef(void) { struct jv v = {.kind = JV_UNDEF}; return v; }
static inline struct jv jv_none(void) { struct jv v = {.kind = JV_NONE}; return v; }
static inline struct jv jv_bool(bool b) { struct jv v = {.kind = JV_BOOL}; v.u.b = b; return v; }
static inline struct jv jv_int(int64_t i) { struct jv v = {.kind = JV_INT}; v.u.i = i; return v; }
static inline struct jv jv_float(double f) { struct jv v = {.kind = JV_FLOAT}; v.u.f = f; return v; }

struct jctx;
/* Constructors (NULL-free: on arena overflow they return an empty value and
 * the context's arena is marked over; callers check jctx_failed()). */
struct jv jv_str(struct jarena *a, const char *s, size_t n);
struct jv jv_cstr(struct jarena *a, const char *s);
struct jv jv_list_new(struct jarena *a, size_t cap);
struct jv jv_dict_new(struct jarena *a, size_t cap);
void jv_list_push(struct jarena *a, struct jv list, struct jv item);
void jv_dict_set(struct jarena *a, struct jv dict, struct jv key, struct jv val);
/* Looks a key up; returns undefined when absent. */
struct jv jv_dict_get(struct jv dict, const char *key, size_t klen);
bool jv_dict_find(struct jv dict, struct jv key, struct jv *out);

bool jv_truthy(struct jv v);
bool jv_is_num(struct jv v);
double jv_num(struct jv v);
bool jv_eq(struct jv a, struct jv b);
/* Python ordering; OM_EFORMAT when the kinds don't order. *cmp <0, 0, >0. */
int jv_cmp(struct jv a, struct jv b, int *cmp);
const char *jv_kind_name(struct jv v);
/* Python str() / repr() of v appended to b. */
void jv_write_str(struct jbuf *b, struct jv v);
void jv_write_repr(struct jbuf *b, struct jv v);
void jv_write_float(struct jbuf *b, double f);
/* json.dumps(v, ensure_ascii=False, indent=indent (<0: none), sort_keys). */
void jv_write_json(struct jbuf *b, struct jv v, int indent, bool sort_keys, int level);
/* str(v) as a string value (no copy when v is already a string). */
struct jv jv_to_str(struct jarena *a, struct jv v);
/* jansson -> value (deep copy into the arena). */
struct jv jv_from_json(struct jarena *a, const json_t *j, int depth);
/* UTF-8 code points in s[0..n). */
size_t jv_utf8_len(const char *s, size_t n);
/* Byte offset of code point index ci (clamped to n). */
size_t jv_utf8_off(const char *s, size_t n, size_t ci);

/* ---- lexer ---- */
enum jtok_kind {
    JT_TEXT, JT_VAR_BEGIN, JT_VAR_END, JT_BLOCK_BEGIN, JT_BLOCK_END,
    JT_NAME, JT_STRING, JT_INT, JT_FLOAT, JT_OP, JT_EOF
};
struct jtok {
    uint8_t kind;
    int line;
    const char *s; /* text / name / op / decoded string (arena) */
    size_t n;
    int64_t i;
    double f;
};
struct jtoks {
    struct jtok *v;
    size_t n, cap;
};
/* Tokenizes src (already newline-normalized, trailing newline dropped).
 * Strings and text live in arena a. */
int jinja_lex(const char *src, size_t len, struct jarena *a, struct jtoks *out, char *err,
              size_t errlen);

/* ---- AST ---- */
enum jnode_kind {
    /* statements */
    N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK, N_FILTERBLOCK,
    N_BREAK, N_CONTINUE, N_DO, N_BODY,
    /* expressions */
    E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST, E_NEG, E_POS, E_NOT,
    E_BIN, E_AND, E_OR, E_CMP, E_COND, E_LIST, E_TUPLE, E_DICT
};
enum jop {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_CONCAT,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_NOTIN
};
struct jnode {
    uint8_t kind;
    uint8_t op;
    bool neg;     /* E_TEST: `is not` */
    int line;
    int depth;    /* expression tree depth */
    const char *name; /* E_NAME/E_ATTR/E_FILTER/E_TEST/N_MACRO/N_SETBLOCK name; N_TEXT text */
    size_t name_len;
    struct jv lit;                /* E_LIT */
    struct jnode *a, *b, *c;      /* operands / cond / iterable / target / value */
    struct jnode **kids;          /* args, list items, dict keys, compare operands, if conds */
    size_t n_kids;
    struct jnode **kids2;         /* dict values, compare... , kwarg values, macro defaults */
    const char **kw;              /* kwarg names / macro parameter names / for targets */
    size_t n_kw;
    struct jnode **body;          /* statement bodies: N_BODY nodes per branch */
    size_t n_body;
    struct jnode *els;            /* else body (N_BODY) */
};

/* Parses tokens into a N_BODY root. */
int jinja_parse_toks(const struct jtoks *t, struct jarena *a, struct jnode **root, char *err,
                     size_t errlen);

struct jinja {
    struct jarena ar;
    struct jnode *root;
};

/* ---- render context ---- */
/* Callables made by templates: macros, `caller`, `loop.cycle`. */
enum { JF_MACRO, JF_CALLER, JF_CYCLE, JF_GLOBAL, JF_METHOD };
struct jfunc {
    int kind;
    const struct jnode *node; /* N_MACRO / N_CALLBLOCK */
    struct jframe *closure;
    int64_t index;            /* JF_CYCLE: loop.index0 */
    const char *gname;        /* JF_GLOBAL: range, namespace…; JF_METHOD: method name */
    struct jv self;           /* JF_METHOD: bound object */
};

struct jframe {
    struct jframe *parent;
    struct jv vars; /* dict */
};

enum { JR_BREAK = 1, JR_CONTINUE = 2 };

struct jctx {
    struct jarena ar;
    struct jbuf *out;
    struct jframe *root;
    uint64_t steps;
    int depth;
    char *err;
    size_t errlen;
};

/* Sets the error message (first one wins) and returns rc. */
int jctx_fail(struct jctx *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Counts work; returns nonzero (error set) past the step limit. */
int jctx_charge(struct jctx *c, uint64_t n);
/* OM_ENOMEM with a message when the arena bound was hit, else 0. */
int jctx_mem(struct jctx *c);

int jinja_eval(struct jctx *c, struct jframe *f, const struct jnode *e, struct jv *out);
int jinja_exec(struct jctx *c, struct jframe *f, const struct jnode *body);

/* Filters, tests, methods and global functions (jinja_filters.c, jinja_builtins.c).
 * args[0..nargs) positional, kwn/kwv keyword arguments. */
struct jargs {
    struct jv *v;
    size_t n;
    const char **kwn;
    struct jv *kwv;
    size_t nkw;
};
/* Returns OM_ENOTFOUND (no error set) when no filter/method/global `name`. */
int jinja_filter(struct jctx *c, const char *name, struct jv in, const struct jargs *a,
                 struct jv *out);
int jinja_test(struct jctx *c, const char *name, struct jv in, const struct jargs *a, bool *out);
int jinja_method(struct jctx *c, struct jv self, const char *name, const struct jargs *a,
                 struct jv *out);
int jinja_global(struct jctx *c, const char *name, const struct jargs *a, struct jv *out);
/* The global function `name` as a value (so `strftime_now is defined`), or undefined. */
struct jv jinja_global_value(struct jctx *c, const char *name);
/* String helpers (jinja_str.c). mode: 'u'pper, 'l'ower, 'c'apitalize, 't'
 * Jinja's title filter, 'T' Python's str.title(). which: 'b'oth, 'l'eft,
 * 'r'ight; chars NULL strips whitespace. count < 0: replace all. */
struct jv jinja_recase(struct jctx *c, struct jv in, char mode);
struct jv jinja_strip(struct jctx *c, struct jv s, const struct jstr *chars, char which);
struct jv jinja_replace(struct jctx *c, struct jv s, struct jv old, struct jv new, int64_t count);
/* printf-style formatting of fmt with a's positional arguments. */
int jinja_pformat(struct jctx *c, struct jv fmt, const struct jargs *a, struct jv *out);
/* Argument by position or keyword; `def` when absent. */
struct jv jargs_get(const struct jargs *a, size_t pos, const char *kw, struct jv def);
/* Calls a callable value (macro, caller, loop.cycle); caller may be undefined. */
int jinja_call_value(struct jctx *c, struct jv fn, const struct jargs *a, struct jv caller,
                     struct jv *out);
/* Attribute / item access with Jinja's leniency (missing -> undefined). */
struct jv jinja_getattr(struct jv obj, const char *name, size_t len);
int jinja_getitem(struct jctx *c, struct jv obj, struct jv key, struct jv *out);
/* Items of an iterable as a list value (dict: keys, str: characters). */
int jinja_iterate(struct jctx *c, struct jv v, struct jv *out);

#endif
