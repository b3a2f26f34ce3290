/* worker/asgi_scope.c: the http scope of a request (asgiref
 * specs/www.rst "HTTP Connection Scope"), built in C from the
 * protocol-neutral head with interned keys: path percent-decoded, headers
 * as byte pairs, client/server, state, and the TLS extension
 * (specs/tls.rst).
 */

#include <Python.h>

#include <string.h>

#include "common/log.h"
#include "worker/asgi.h"
#include "worker/asgi_py.h"
#include "worker/asgi_state.h"
#include "worker/tls.h"

/* Methods and request header names common enough to share one object
 * per worker; names sorted by length (scope_header_name()). */
static const char *const scope_method_names[] = {
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH",
};
#define SCOPE_NMETHODS am_nitems(scope_method_names)

static const char *const scope_name_strs[] = {
    "te",
    "dnt",
    "via",
    "host",
    "accept",
    "cookie",
    "origin",
    "pragma",
    "referer",
    "upgrade",
    "forwarded",
    "connection",
    "user-agent",
    "content-type",
    "x-request-id",
    "authorization",
    "cache-control",
    "if-none-match",
    "content-length",
    "sec-fetch-dest",
    "sec-fetch-mode",
    "sec-fetch-site",
    "sec-fetch-user",
    "accept-encoding",
    "accept-language",
    "x-forwarded-for",
    "x-forwarded-host",
    "if-modified-since",
    "sec-websocket-key",
    "x-forwarded-proto",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "upgrade-insecure-requests",
};
#define SCOPE_NNAMES      am_nitems(scope_name_strs)
#define SCOPE_NAME_MAXLEN 32

typedef struct {
    PyObject *tuple; /* owned (host, port) or NULL */
    char host[64];
    int port;
} scope_addr_t;

static PyObject *scope_methods[SCOPE_NMETHODS];
static PyObject *scope_names[SCOPE_NNAMES];
/* scope_names[by_len[n] .. by_len[n + 1]) are the names of length n. */
static size_t scope_names_by_len[SCOPE_NAME_MAXLEN + 1];
/* Owned: the constant keys and values, one per http_version (1.0, 1.1,
 * 2), so that value is the template's. */
static PyObject *scope_templates[3];
static scope_addr_t scope_client, scope_server;

static int
asgi_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decode a path and decode it as UTF-8 (invalid sequences become
 * U+FFFD, as urllib.parse.unquote does). */
static PyObject *
asgi_decode_path(const char *p, size_t len)
{
    char stack[1024] = { 0 }, *buf;
    size_t i, n = 0;
    PyObject *s;

    if (memchr(p, '%', len) == NULL) {
        return PyUnicode_DecodeUTF8(p, (Py_ssize_t)len, "replace");
    }
    buf = len <= sizeof(stack) ? stack : PyMem_Malloc(len);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    for (i = 0; i < len; i++) {
        if (p[i] == '%' && i + 2 < len && asgi_hex(p[i + 1]) >= 0 &&
            asgi_hex(p[i + 2]) >= 0) {
            buf[n++] = (char)(asgi_hex(p[i + 1]) * 16 + asgi_hex(p[i + 2]));
            i += 2;
        } else {
            buf[n++] = p[i];
        }
    }
    s = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, "replace");
    if (buf != stack) {
        PyMem_Free(buf);
    }
    return s;
}

static PyObject *
asgi_str_or_none(const char *s)
{
    if (s == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(s);
}

/* asgiref specs/tls.rst: the "tls" extension. The server certificate's
 * PEM (about 1 KiB, the same for every request of a listener) is decoded
 * once and shared: a str is immutable. */
static const char *tls_cert_src;
static PyObject *tls_cert_str;

static PyObject *
asgi_tls_server_cert(const char *pem)
{
    if (pem == NULL) {
        Py_RETURN_NONE;
    }
    if (pem != tls_cert_src || tls_cert_str == NULL) {
        PyObject *o = PyUnicode_FromString(pem);

        if (o == NULL) {
            return NULL;
        }
        Py_XSETREF(tls_cert_str, o);
        tls_cert_src = pem;
    }
    Py_INCREF(tls_cert_str);
    return tls_cert_str;
}

static PyObject *
asgi_tls_extension(struct am_tls_conn_s *t)
{
    PyObject *const keys[6] = {
        am_asgi_keys.server_cert,      am_asgi_keys.client_cert_chain,
        am_asgi_keys.client_cert_name, am_asgi_keys.client_cert_error,
        am_asgi_keys.tls_version,      am_asgi_keys.cipher_suite,
    };
    const am_tls_info_t *info = am_tls_info(t);
    PyObject *d, *chain, *v[6];
    size_t i;

    if (info == NULL) {
        Py_RETURN_NONE;
    }
    chain = PyList_New((Py_ssize_t)info->nclient_certs);
    if (chain == NULL) {
        return NULL;
    }
    for (i = 0; i < info->nclient_certs; i++) {
        PyObject *pem = PyUnicode_FromString(info->client_certs[i]);

        if (pem == NULL) {
            Py_DECREF(chain);
            return NULL;
        }
        PyList_SET_ITEM(chain, (Py_ssize_t)i, pem);
    }
    v[0] = asgi_tls_server_cert(info->server_cert);
    v[1] = chain;
    v[2] = asgi_str_or_none(info->client_cert_name);
    v[3] = asgi_str_or_none(info->client_cert_error);
    v[4] = PyLong_FromLong(info->tls_version);
    v[5] = PyLong_FromLong(info->cipher_suite);
    d = PyDict_New();
    for (i = 0; i < 6; i++) {
        if (d != NULL &&
            (v[i] == NULL || PyDict_SetItem(d, keys[i], v[i]) == -1)) {
            Py_CLEAR(d);
        }
        Py_XDECREF(v[i]);
    }
    return d;
}

/* Cached objects: a method among the common ones, a header name among
 * the common ones (bytes, shared: immutable), the last client and server
 * addresses (a connection's requests follow one another). */
static PyObject *
scope_method(const char *m, size_t len)
{
    PyObject *o;
    size_t i;

    for (i = 0; i < SCOPE_NMETHODS; i++) {
        o = scope_methods[i];
        if ((size_t)PyUnicode_GET_LENGTH(o) == len &&
            memcmp(PyUnicode_DATA(o), m, len) == 0) {
            Py_INCREF(o);
            return o;
        }
    }
    return PyUnicode_FromStringAndSize(m, (Py_ssize_t)len);
}

static PyObject *
scope_header_name(const char *name, size_t len)
{
    PyObject *o;
    size_t i;

    if (len < SCOPE_NAME_MAXLEN) {
        for (i = scope_names_by_len[len]; i < scope_names_by_len[len + 1];
             i++) {
            o = scope_names[i];
            if (memcmp(PyBytes_AS_STRING(o), name, len) == 0) {
                Py_INCREF(o);
                return o;
            }
        }
    }
    return PyBytes_FromStringAndSize(name, (Py_ssize_t)len);
}

static PyObject *
scope_addr(scope_addr_t *cache, const char *host, int port)
{
    PyObject *h, *p, *t;
    size_t len;

    if (host == NULL) {
        Py_RETURN_NONE;
    }
    len = strlen(host);
    if (cache->tuple != NULL && cache->port == port &&
        len < sizeof(cache->host) && memcmp(cache->host, host, len + 1) == 0) {
        Py_INCREF(cache->tuple);
        return cache->tuple;
    }
    if (port < 0) {
        /* A unix socket: [path, None] (asgiref www.rst, "server"); a list
         * is mutable, so never cached. */
        return Py_BuildValue("[sO]", host, Py_None);
    }
    h = PyUnicode_DecodeUTF8(host, (Py_ssize_t)len, "replace");
    p = PyLong_FromLong(port);
    t = h && p ? PyTuple_Pack(2, h, p) : NULL;
    Py_XDECREF(h);
    Py_XDECREF(p);
    if (t != NULL && len < sizeof(cache->host)) {
        Py_XSETREF(cache->tuple, t);
        Py_INCREF(t);
        memcpy(cache->host, host, len + 1);
        cache->port = port;
    }
    return t;
}

/* The value in a copy of the template: the key is there, so the store
 * replaces a value and never grows the dict. */
static int
scope_set(PyObject *d, PyObject *k, PyObject *v)
{
    int rc;

    if (v == NULL) {
        return -1;
    }
    rc = PyDict_SetItem(d, k, v);
    Py_DECREF(v);
    return rc;
}

PyObject *
am_asgi_scope_build(const am_asgi_head_t *head)
{
    PyObject *scope, *headers, *pair, *name, *value;
    size_t i;

    /* A fresh dict each time: the app may change it (asgiref www.rst). */
    scope = PyDict_Copy(scope_templates[head->http_version[0] == '2'   ? 2
                                        : head->http_version[2] == '0' ? 0
                                                                       : 1]);
    if (scope == NULL) {
        return NULL;
    }
    if (scope_set(scope, am_asgi_keys.method,
                  scope_method(head->method, head->method_len)) == -1 ||
        (head->scheme[4] == 's' &&
         PyDict_SetItem(scope, am_asgi_keys.scheme,
                        am_asgi_objs.scheme_https) == -1) ||
        scope_set(scope, am_asgi_keys.path,
                  asgi_decode_path(head->path, head->path_len)) == -1 ||
        scope_set(scope, am_asgi_keys.raw_path,
                  PyBytes_FromStringAndSize(
                      head->path, (Py_ssize_t)head->path_len)) == -1 ||
        (head->query_len > 0 &&
         scope_set(scope, am_asgi_keys.query_string,
                   PyBytes_FromStringAndSize(
                       head->query, (Py_ssize_t)head->query_len)) == -1)) {
        goto fail;
    }

    headers = PyList_New((Py_ssize_t)head->nheaders);
    if (headers == NULL) {
        goto fail;
    }
    for (i = 0; i < head->nheaders; i++) {
        name =
            scope_header_name(head->headers[i].name, head->headers[i].name_len);
        value = PyBytes_FromStringAndSize(
            head->headers[i].value, (Py_ssize_t)head->headers[i].value_len);
        if (name == NULL || value == NULL) {
            Py_XDECREF(name);
            Py_XDECREF(value);
            Py_DECREF(headers);
            goto fail;
        }
        pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(name);
            Py_DECREF(value);
            Py_DECREF(headers);
            goto fail;
        }
        PyTuple_SET_ITEM(pair, 0, name);               /* steals */
        PyTuple_SET_ITEM(pair, 1, value);              /* steals */
        PyList_SET_ITEM(headers, (Py_ssize_t)i, pair); /* steals */
    }
    if (scope_set(scope, am_asgi_keys.headers, headers) == -1 ||
        scope_set(scope, am_asgi_keys.client,
                  scope_addr(&scope_client, head->client_host,
                             head->client_port)) == -1 ||
        scope_set(scope, am_asgi_keys.server,
                  scope_addr(&scope_server, head->server_host,
                             head->server_port)) == -1 ||
        scope_set(scope, am_asgi_keys.state, PyDict_Copy(am_asgi_objs.state)) ==
            -1) {
        goto fail;
    }
    if (head->trailers_allowed || head->tls != NULL) {
        PyObject *ext = PyDict_New();

        if (ext == NULL) {
            goto fail;
        }
        if (scope_set(scope, am_asgi_keys.extensions, ext) == -1) {
            goto fail;
        }
        if (head->trailers_allowed &&
            scope_set(ext, am_asgi_keys.http_response_trailers_ext,
                      PyDict_New()) == -1) {
            goto fail;
        }
        if (head->tls != NULL &&
            scope_set(ext, am_asgi_keys.tls, asgi_tls_extension(head->tls)) ==
                -1) {
            goto fail;
        }
    }
    return scope;

fail:
    Py_DECREF(scope);
    return NULL;
}

int
am_asgi_scope_init(void)
{
    PyObject *o, *ver;
    size_t i, len;

    for (i = 0; i < SCOPE_NMETHODS; i++) {
        scope_methods[i] = PyUnicode_InternFromString(scope_method_names[i]);
        if (scope_methods[i] == NULL) {
            return -1;
        }
    }
    /* scope_name_strs is sorted by length: index the first of each. */
    for (i = 0, len = 0; i < SCOPE_NNAMES; i++) {
        o = PyBytes_FromString(scope_name_strs[i]);
        if (o == NULL) {
            return -1;
        }
        scope_names[i] = o;
        AM_ASSERT(strlen(scope_name_strs[i]) + 1 >= len); /* sorted */
        while (len <= strlen(scope_name_strs[i])) {
            scope_names_by_len[len++] = i;
        }
    }
    while (len <= SCOPE_NAME_MAXLEN) {
        scope_names_by_len[len++] = SCOPE_NNAMES;
    }
    /* The keys in the order of the scope, with the values most requests
     * keep; am_asgi_scope_build() replaces the others. */
    for (i = 0; i < 3; i++) {
        PyObject *t = PyDict_New();

        scope_templates[i] = t;
        ver = i == 0   ? am_asgi_objs.ver_10
              : i == 1 ? am_asgi_objs.ver_11
                       : am_asgi_objs.ver_2;
        if (t == NULL ||
            PyDict_SetItem(t, am_asgi_keys.type, am_asgi_keys.http) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.asgi, am_asgi_objs.scope_asgi) ==
                -1 ||
            PyDict_SetItem(t, am_asgi_keys.http_version, ver) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.method, Py_None) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.scheme, am_asgi_objs.scheme_http) ==
                -1 ||
            PyDict_SetItem(t, am_asgi_keys.path, Py_None) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.raw_path, Py_None) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.query_string,
                           am_asgi_objs.empty_bytes) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.root_path, am_asgi_objs.root_path) ==
                -1 ||
            PyDict_SetItem(t, am_asgi_keys.headers, Py_None) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.client, Py_None) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.server, Py_None) == -1 ||
            PyDict_SetItem(t, am_asgi_keys.state, Py_None) == -1) {
            return -1;
        }
    }
    return 0;
}
