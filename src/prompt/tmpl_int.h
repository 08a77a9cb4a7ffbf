/* prompt: private layout of the Go text/template interpreter (tmpl_*.c).
 *
 * The AST mirrors Go's text/template/parse node types so that the AST walks
 * Ollama performs (Identifiers, tool prefix, thinking tags, the cut after
 * .Response) can be reproduced node for node. Values during execution are
 * struct tval: scalars are held by value, arrays and objects are borrowed
 * jansson values (or arena-owned ones created by functions). */
#ifndef TMPL_INT_H
#define TMPL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "prompt/tmpl.h"

enum tnode_type {
    TN_LIST, TN_TEXT, TN_ACTION, TN_IF, TN_RANGE, TN_WITH, TN_BREAK, TN_CONTINUE,
    TN_TEMPLATE, TN_PIPE, TN_CMD, TN_FIELD, TN_VAR, TN_DOT, TN_NIL, TN_BOOL, TN_NUM,
    TN_STR, TN_IDENT, TN_CHAIN,
};

struct tnode {
    enum tnode_type type;
    uint32_t pos;              /* byte offset of the node in the source */
    uint32_t end;              /* end offset (for error context) */
    uint32_t epos;             /* position Go reports (chains: the 2nd field) */
    struct tnode **kids;       /* LIST: nodes; PIPE: commands; CMD: args */
    int nkids;
    char *text;                /* TEXT / STR: bytes; IDENT: name; TEMPLATE: name */
    size_t tlen;
    char **idents;             /* FIELD: idents; VAR: "$x" then fields; CHAIN: fields */
    int nidents;
    struct tnode *pipe;        /* IF/RANGE/WITH/ACTION/TEMPLATE: pipeline; CHAIN: base */
    struct tnode *list, *elist;/* IF/RANGE/WITH bodies */
    char **decl;               /* PIPE: declared variables ("$x") */
    int ndecl;
    bool is_assign;            /* PIPE: '=' rather than ':=' */
    bool bval;                 /* BOOL */
    bool is_int, is_float;     /* NUM */
    int64_t ival;
    double fval;
};

struct tmpl_def {
    char *name;
    struct tnode *root;        /* LIST */
};

struct tmpl {
    struct tnode *root;        /* LIST */
    struct tmpl_def *defs;     /* {{define}} / {{block}} templates */
    int ndefs;
    char *src;                 /* copy of the source (error contexts) */
    bool missing_invalid;      /* missing map key -> invalid value, not a nil
                                  interface (Go without missingkey=zero) */
    size_t srclen;
};

/* tmpl_lex.c: tokens point into the source. */
enum ttok_type {
    TT_EOF, TT_ERROR, TT_TEXT, TT_LDELIM, TT_RDELIM, TT_SPACE, TT_IDENT, TT_FIELD,
    TT_VARIABLE, TT_DOT, TT_STRING, TT_RAWSTRING, TT_CHAR, TT_NUMBER, TT_PIPE, TT_LPAREN,
    TT_RPAREN, TT_DECLARE, TT_ASSIGN, TT_COMMA,
};
struct ttok {
    enum ttok_type type;
    uint32_t pos;
    const char *s; /* TT_ERROR: the message */
    size_t n;
};
struct tlex {
    const char *src;
    size_t len, pos;
    int paren;
    bool in_action, at_left, trim_next, done;
    char msg[64]; /* formatted error text */
};
void tmpl_lex_init(struct tlex *lx, const char *src, size_t len);
/* Next token; returns 0, or -1 with a TT_ERROR token (then only TT_EOF). */
int tmpl_lex_next(struct tlex *lx, struct ttok *t);

/* tmpl_node.c */
struct tnode *tmpl_node_new(enum tnode_type type, uint32_t pos);
void tmpl_node_free(struct tnode *n);
struct tnode *tmpl_node_copy(const struct tnode *n);
void tmpl_node_add(struct tnode *parent, struct tnode *kid);
/* Appends a copy of s[0..len) to the string vector (*v, *n). */
void tmpl_strv_add(char ***v, int *n, const char *s, size_t len);

/* Values. */
enum tval_kind { TV_NIL, TV_BOOL, TV_INT, TV_FLOAT, TV_STR, TV_ARR, TV_OBJ };
#define TVF_IFACE 1u   /* TV_NIL that is a valid nil interface (map lookup) */
#define TVF_JSONSTR 2u /* prints as JSON (Ollama's Stringer types) */
#define TVF_NILSLICE 4u /* an empty array that is a Go nil slice: JSON null */
#define TVF_DYN 8u /* held in an interface{} (map value, []any element) */
#define TVF_TYPED 16u /* an array of a concrete element type ([]string) */

struct tval {
    enum tval_kind kind;
    unsigned flags;
    bool b;
    int64_t i;
    double f;
    const char *s;             /* TV_STR (not NUL-terminated necessarily) */
    size_t slen;
    json_t *j;                 /* TV_ARR / TV_OBJ (borrowed or arena-owned) */
};

/* Execution state shared by tmpl_exec.c and tmpl_func.c. */
struct tstate;

struct tbuf {
    char *p;
    size_t len, cap, limit;
    bool over;
};
void tmpl_buf_put(struct tbuf *b, const char *s, size_t n);
void tmpl_buf_putc(struct tbuf *b, char c);
void tmpl_buf_printf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Value helpers (tmpl_val.c). */
struct tval tmpl_val_from_json(json_t *j);
bool tmpl_val_truth(const struct tval *v);
const char *tmpl_val_gotype(const struct tval *v); /* struct marker or NULL */
const char *tmpl_val_type_name(const struct tval *v); /* Go type name for messages */
/* Appends v as Go's fmt %v would print it (template output rules). */
void tmpl_val_print(struct tbuf *b, const struct tval *v);
/* fmt's verb c applied to v (printf's formatting, no flags). */
void tmpl_fmt_verb(struct tbuf *b, char c, const struct tval *v);
/* Same, as a function argument prints (nil -> "<nil>"). */
void tmpl_val_print_arg(struct tbuf *b, const struct tval *v);
/* strconv.FormatFloat(f, fmt, -1, 64) for fmt 'g', 'e', 'f'. */
void tmpl_go_float(struct tbuf *b, double f, char fmt);
size_t tmpl_utf8_get(const char *s, size_t n, uint32_t *cp);
size_t tmpl_utf8_put(char *d, uint32_t cp);
void tmpl_pos_line_col(const char *src, size_t len, uint32_t pos, int *line, int *col);
/* Appends encoding/json's Marshal of v; returns 0 or -1 (NaN/Inf). */
int tmpl_val_json(struct tbuf *b, const struct tval *v);
void tmpl_val_json_string(struct tbuf *b, const char *s, size_t n);
/* Object helpers aware of the struct marker key. */
size_t tmpl_obj_len(json_t *o);
/* Keys starting with \x01 are interpreter metadata, invisible to templates. */
bool tmpl_obj_hidden_key(const char *k);
/* Sorted keys of a map (marker excluded); caller frees the array only. */
const char **tmpl_obj_sorted_keys(json_t *o, size_t *n);

/* tmpl_func.c: built-in function dispatch. args are evaluated lazily for
 * and/or (st evaluates through tmpl_state_eval_arg). Returns 0 or negative with
 * the error message (without the "error calling" prefix) in msg. */
struct tstate_fn {
    struct tstate *st;
    const struct tnode *cmd;
    const struct tval *dot;
    const struct tval *final; /* piped value or NULL */
    const struct tnode *err_node; /* set by a function: report the error here */
};
bool tmpl_func_exists(const char *name);
int tmpl_func_call(struct tstate_fn *ctx, const char *name, struct tval *out, char *msg,
                   size_t msglen);
/* Provided by tmpl_exec.c for tmpl_func_call. */
int tmpl_state_eval_arg(struct tstate *st, const struct tnode *arg, const struct tval *dot,
                    struct tval *out);
int tmpl_state_nargs(const struct tstate_fn *ctx); /* args incl. final */
int tmpl_state_arg(struct tstate_fn *ctx, int i, struct tval *out); /* evaluate arg i */
/* Arena string owned by the execution (freed at its end); NULL over bound. */
char *tmpl_state_strdup(struct tstate *st, const char *s, size_t n);
json_t *tmpl_state_keep(struct tstate *st, json_t *j); /* takes a reference */
/* Adds cost steps (work proportional to data size); OM_ERANGE over bound. */
int tmpl_state_charge(struct tstate *st, uint64_t cost);


#endif
