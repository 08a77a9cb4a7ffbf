/* store/keys: the ed25519 identity key Ollama keeps in ~/.ollama and uses to
 * sign registry token requests (Ollama's cmd initializeKeypair, auth.Sign).
 *
 * id_ed25519 is an unencrypted OpenSSH private key ("openssh-key-v1"):
 *   "openssh-key-v1\0" string("none") string("none") string("") uint32(1)
 *   string(pubkey blob) string(private section)
 * private section: uint32 check, uint32 check, string("ssh-ed25519"),
 *   string(pub 32), string(seed 32 || pub 32), string(comment), padding
 *   1,2,3… to a multiple of 8.
 * pubkey blob: string("ssh-ed25519") string(pub 32).
 * The file is parsed with every length checked against what is left; a key
 * whose stored public half does not match its seed is rejected. New files
 * are written to a temp name, fsync'd and renamed. */
#include "store/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/om.h"

#define KEY_FILE_MAX 16384

struct reg_key {
    EVP_PKEY *pkey;
    unsigned char pub[32];
    char blob_b64[80];   /* base64 of the ssh pubkey blob (51 bytes -> 68) */
    char authorized[100]; /* "ssh-ed25519 <blob_b64>" */
};

int reg_key_default_dir(char *out, size_t outlen)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return OM_ENOTFOUND;
    int n = snprintf(out, outlen, "%s/.ollama", home);
    return (n < 0 || (size_t)n >= outlen) ? OM_ERANGE : 0;
}

/* ---- ssh wire helpers ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static size_t put_str(unsigned char *p, const void *s, uint32_t n)
{
    put_u32(p, n);
    memcpy(p + 4, s, n);
    return 4 + (size_t)n;
}

struct rd { const unsigned char *p; size_t n; };

static int rd_u32(struct rd *r, uint32_t *v)
{
    if (r->n < 4) return -1;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4; r->n -= 4;
    return 0;
}

static int rd_str(struct rd *r, const unsigned char **s, uint32_t *n)
{
    if (rd_u32(r, n) || *n > r->n) return -1;
    *s = r->p; r->p += *n; r->n -= *n;
    return 0;
}

static int rd_expect(struct rd *r, const char *want)
{
    const unsigned char *s; uint32_t n;
    if (rd_str(r, &s, &n)) return -1;
    return (n == strlen(want) && memcmp(s, want, n) == 0) ? 0 : -1;
}

static size_t pub_blob(const unsigned char pub[32], unsigned char out[51])
{
    size_t o = put_str(out, "ssh-ed25519", 11);
    o += put_str(out + o, pub, 32);
    return o;
}

static int key_finish(struct reg_key *k)
{
    size_t n = 32;
    if (EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &n) != 1 || n != 32)
        return OM_EIO;
    unsigned char blob[51];
    size_t bn = pub_blob(k->pub, blob);
    EVP_EncodeBlock((unsigned char *)k->blob_b64, blob, (int)bn);
    snprintf(k->authorized, sizeof k->authorized, "ssh-ed25519 %s", k->blob_b64);
    return 0;
}

/* ---- parse ---- */

static int b64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen)
{
    /* strip whitespace first: EVP_DecodeBlock rejects it */
    char *clean = om_xmalloc(inlen + 1);
    size_t c = 0;
    for (size_t i = 0; i < inlen; i++)
        if (in[i] != '\n' && in[i] != '\r' && in[i] != ' ' && in[i] != '\t')
            clean[c++] = in[i];
    if (c == 0 || c % 4) { free(clean); return -1; }
    unsigned char *buf = om_xmalloc(c / 4 * 3 + 1);
    int n = EVP_DecodeBlock(buf, (unsigned char *)clean, (int)c);
    if (n < 0) { free(clean); free(buf); return -1; }
    if (clean[c - 1] == '=') n--;
    if (clean[c - 2] == '=') n--;
    free(clean);
    *out = buf; *outlen = (size_t)n;
    return 0;
}

static int key_parse(const char *text, size_t len, struct reg_key *k,
                     const char *path, char *err, size_t errlen)
{
    static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
    static const char end[] = "-----END OPENSSH PRIVATE KEY-----";
    const char *b = memmem(text, len, begin, sizeof begin - 1);
    const char *e = b ? memmem(b, len - (size_t)(b - text), end, sizeof end - 1) : NULL;
    if (!b || !e)
        return om_err(err, errlen, OM_EFORMAT, "%s: not an OpenSSH private key", path);
    b += sizeof begin - 1;
    unsigned char *bin; size_t n;
    if (b64_decode(b, (size_t)(e - b), &bin, &n))
        return om_err(err, errlen, OM_EFORMAT, "%s: bad base64 in key body", path);

    int rc = OM_EFORMAT;
    const char *what = "header";
    struct rd r = { bin, n }, priv;
    const unsigned char *s, *pub, *kp; uint32_t sn, pn, kn, nkeys, c1, c2;
    if (n < 15 || memcmp(bin, "openssh-key-v1", 15)) goto out;
    r.p += 15; r.n -= 15;
    what = "cipher (encrypted keys are not supported)";
    if (rd_expect(&r, "none") || rd_expect(&r, "none") || rd_str(&r, &s, &sn) || sn != 0) goto out;
    what = "key count";
    if (rd_u32(&r, &nkeys) || nkeys != 1) goto out;
    what = "public key";
    if (rd_str(&r, &s, &sn)) goto out;
    what = "private section";
    if (rd_str(&r, &s, &sn)) goto out;
    priv.p = s; priv.n = sn;
    if (rd_u32(&priv, &c1) || rd_u32(&priv, &c2) || c1 != c2) goto out;
    what = "key type (want ssh-ed25519)";
    if (rd_expect(&priv, "ssh-ed25519")) goto out;
    what = "ed25519 key lengths";
    if (rd_str(&priv, &pub, &pn) || pn != 32 || rd_str(&priv, &kp, &kn) || kn != 64) goto out;
    if (memcmp(kp + 32, pub, 32)) { what = "public half does not match the private key"; goto out; }
    k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, kp, 32);
    if (!k->pkey) { what = "OpenSSL rejected the key"; goto out; }
    if (key_finish(k) || memcmp(k->pub, pub, 32)) {
        what = "public half does not match the private key";
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(bin, n);
    free(bin);
    if (rc)
        return om_err(err, errlen, rc, "%s: bad %s", path, what);
    return 0;
}

/* ---- write ---- */

static int write_atomic(const char *path, const char *data, size_t n, mode_t mode)
{
    char tmp[4200];
    int len = snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (len < 0 || (size_t)len >= sizeof tmp) return OM_ERANGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0) { if (errno == EINTR) continue; int rc = -errno; close(fd); unlink(tmp); return rc; }
        off += (size_t)w;
    }
    if (fsync(fd) || close(fd)) { int rc = -errno; unlink(tmp); return rc; }
    if (rename(tmp, path)) { int rc = -errno; unlink(tmp); return rc; }
    return 0;
}

static int key_create(struct reg_key *k, const char *dir, const char *path,
                      char *err, size_t errlen)
{
    unsigned char seed[32];
    if (RAND_bytes(seed, sizeof seed) != 1)
        return om_err(err, errlen, OM_EIO, "%s: no random bytes for a new key", path);
    k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
    if (!k->pkey || key_finish(k)) {
        OPENSSL_cleanse(seed, sizeof seed);
        return om_err(err, errlen, OM_EIO, "%s: OpenSSL could not make an ed25519 key", path);
    }
    unsigned char blob[51];
    size_t bn = pub_blob(k->pub, blob);

    /* private section, padded to 8 */
    unsigned char priv[200];
    size_t pn = 0;
    uint32_t check;
    RAND_bytes((unsigned char *)&check, sizeof check);
    put_u32(priv, check); put_u32(priv + 4, check); pn = 8;
    pn += put_str(priv + pn, "ssh-ed25519", 11);
    pn += put_str(priv + pn, k->pub, 32);
    unsigned char kp[64];
    memcpy(kp, seed, 32); memcpy(kp + 32, k->pub, 32);
    pn += put_str(priv + pn, kp, 64);
    pn += put_str(priv + pn, "", 0);
    for (unsigned char pad = 1; pn % 8; pad++) priv[pn++] = pad;

    unsigned char bin[400];
    size_t n = 0;
    memcpy(bin, "openssh-key-v1", 15); n = 15;
    n += put_str(bin + n, "none", 4);
    n += put_str(bin + n, "none", 4);
    n += put_str(bin + n, "", 0);
    put_u32(bin + n, 1); n += 4;
    n += put_str(bin + n, blob, (uint32_t)bn);
    n += put_str(bin + n, priv, (uint32_t)pn);

    char b64[600];
    int bl = EVP_EncodeBlock((unsigned char *)b64, bin, (int)n);
    char pem[800];
    size_t o = (size_t)snprintf(pem, sizeof pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n");
    for (int i = 0; i < bl; i += 70) {
        int l = bl - i < 70 ? bl - i : 70;
        memcpy(pem + o, b64 + i, (size_t)l); o += (size_t)l;
        pem[o++] = '\n';
    }
    o += (size_t)snprintf(pem + o, sizeof pem - o, "-----END OPENSSH PRIVATE KEY-----\n");
    OPENSSL_cleanse(seed, sizeof seed); OPENSSL_cleanse(kp, sizeof kp);
    OPENSSL_cleanse(priv, sizeof priv); OPENSSL_cleanse(bin, sizeof bin);

    if (mkdir(dir, 0755) && errno != EEXIST) {
        OPENSSL_cleanse(pem, sizeof pem);
        return om_err(err, errlen, -errno, "%s: cannot create directory: %s", dir, strerror(errno));
    }
    int rc = write_atomic(path, pem, o, 0600);
    OPENSSL_cleanse(pem, sizeof pem);
    if (rc) return om_err(err, errlen, rc, "%s: cannot write: %s", path, om_strerror(rc));

    char pubpath[4210], line[128];
    snprintf(pubpath, sizeof pubpath, "%s.pub", path);
    int ln = snprintf(line, sizeof line, "%s\n", k->authorized);
    rc = write_atomic(pubpath, line, (size_t)ln, 0644);
    if (rc) return om_err(err, errlen, rc, "%s: cannot write: %s", pubpath, om_strerror(rc));
    om_log(OM_LOG_INFO, "store", "generated new identity key %s: %s", path, k->authorized);
    return 0;
}

int reg_key_load(const char *dir, int create, struct reg_key **out,
                 char *err, size_t errlen)
{
    char defdir[4096], path[4200];
    if (!dir) {
        if (reg_key_default_dir(defdir, sizeof defdir))
            return om_err(err, errlen, OM_ENOTFOUND, "no key directory: HOME is not set");
        dir = defdir;
    }
    int pl = snprintf(path, sizeof path, "%s/id_ed25519", dir);
    if (pl < 0 || (size_t)pl >= sizeof path)
        return om_err(err, errlen, OM_ERANGE, "key directory path too long");

    struct reg_key *k = om_xcalloc(1, sizeof *k);
    int rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        rc = key_create(k, dir, path, err, errlen);
    } else if (fd < 0) {
        rc = om_err(err, errlen, errno == ENOENT ? OM_ENOTFOUND : -errno,
                    "%s: %s", path, strerror(errno));
    } else {
        char *buf = om_xmalloc(KEY_FILE_MAX);
        size_t n = 0;
        ssize_t r;
        while (n < KEY_FILE_MAX && (r = read(fd, buf + n, KEY_FILE_MAX - n)) != 0) {
            if (r < 0) { if (errno == EINTR) continue; break; }
            n += (size_t)r;
        }
        close(fd);
        if (n >= KEY_FILE_MAX)
            rc = om_err(err, errlen, OM_EFORMAT, "%s: larger than %d bytes", path, KEY_FILE_MAX);
        else
            rc = key_parse(buf, n, k, path, err, errlen);
        OPENSSL_cleanse(buf, KEY_FILE_MAX);
        free(buf);
    }
    if (rc) {
        reg_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void reg_key_free(struct reg_key *k)
{
    if (!k) return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *reg_key_public(const struct reg_key *k)
{
    return k->authorized;
}

int reg_key_sign(const struct reg_key *k, const void *msg, size_t n,
                 char *out, size_t outlen)
{
    unsigned char sig[64];
    size_t sl = sizeof sig;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
             EVP_DigestSign(ctx, sig, &sl, msg, n) == 1 && sl == 64;
    EVP_MD_CTX_free(ctx);
    if (!ok) return OM_EIO;
    char sb[100];
    EVP_EncodeBlock((unsigned char *)sb, sig, 64);
    int w = snprintf(out, outlen, "%s:%s", k->blob_b64, sb);
    return (w < 0 || (size_t)w >= outlen) ? OM_ERANGE : 0;
}
