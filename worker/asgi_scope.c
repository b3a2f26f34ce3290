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
asgi_addr(const char *host, int port)
{
    if (host == NULL) {
        Py_RETURN_NONE;
    }
    if (port < 0) {
        /* A unix socket: [path, None] (asgiref www.rst, "server"). */
        return Py_BuildValue("[sO]", host, Py_None);
    }
    return Py_BuildValue("(si)", host, port);
}

static int
asgi_set(PyObject *d, PyObject *k, PyObject *v)
{
    int rc;

    if (v == NULL) {
        return -1;
    }
    rc = PyDict_SetItem(d, k, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *
asgi_str_or_none(const char *s)
{
    if (s == NULL) {
        Py_RETURN_NONE;
    }
    return PyUnicode_FromString(s);
}

/* asgiref specs/tls.rst: the "tls" extension. */
static PyObject *
asgi_tls_extension(struct am_tls_conn_s *t)
{
    const am_tls_info_t *info = am_tls_info(t);
    PyObject *d, *chain;
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
    d = Py_BuildValue(
        "{sNsNsNsNsisi}", "server_cert", asgi_str_or_none(info->server_cert),
        "client_cert_chain", chain, "client_cert_name",
        asgi_str_or_none(info->client_cert_name), "client_cert_error",
        asgi_str_or_none(info->client_cert_error), "tls_version",
        info->tls_version, "cipher_suite", info->cipher_suite);
    return d;
}

PyObject *
am_asgi_scope_build(const am_asgi_head_t *head)
{
    PyObject *scope, *headers, *pair, *name, *value, *ver;
    size_t i;

    scope = PyDict_New();
    if (scope == NULL) {
        return NULL;
    }
    if (PyDict_SetItem(scope, am_asgi_keys.type, am_asgi_keys.http) == -1 ||
        PyDict_SetItem(scope, am_asgi_keys.asgi, am_asgi_objs.scope_asgi) ==
            -1) {
        goto fail;
    }
    ver = head->http_version[0] == '2'   ? am_asgi_objs.ver_2
          : head->http_version[2] == '0' ? am_asgi_objs.ver_10
                                         : am_asgi_objs.ver_11;
    if (PyDict_SetItem(scope, am_asgi_keys.http_version, ver) == -1 ||
        asgi_set(scope, am_asgi_keys.method,
                 PyUnicode_FromStringAndSize(
                     head->method, (Py_ssize_t)head->method_len)) == -1 ||
        PyDict_SetItem(scope, am_asgi_keys.scheme,
                       head->scheme[4] == 's'
                           ? am_asgi_objs.scheme_https
                           : am_asgi_objs.scheme_http) == -1 ||
        asgi_set(scope, am_asgi_keys.path,
                 asgi_decode_path(head->path, head->path_len)) == -1 ||
        asgi_set(scope, am_asgi_keys.raw_path,
                 PyBytes_FromStringAndSize(head->path,
                                           (Py_ssize_t)head->path_len)) == -1 ||
        asgi_set(scope, am_asgi_keys.query_string,
                 PyBytes_FromStringAndSize(
                     head->query, (Py_ssize_t)head->query_len)) == -1 ||
        PyDict_SetItem(scope, am_asgi_keys.root_path, am_asgi_objs.root_path) ==
            -1) {
        goto fail;
    }

    headers = PyList_New((Py_ssize_t)head->nheaders);
    if (headers == NULL) {
        goto fail;
    }
    for (i = 0; i < head->nheaders; i++) {
        name = PyBytes_FromStringAndSize(head->headers[i].name,
                                         (Py_ssize_t)head->headers[i].name_len);
        value = PyBytes_FromStringAndSize(
            head->headers[i].value, (Py_ssize_t)head->headers[i].value_len);
        if (name == NULL || value == NULL) {
            Py_XDECREF(name);
            Py_XDECREF(value);
            Py_DECREF(headers);
            goto fail;
        }
        pair = PyTuple_Pack(2, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (pair == NULL) {
            Py_DECREF(headers);
            goto fail;
        }
        PyList_SET_ITEM(headers, (Py_ssize_t)i, pair); /* steals */
    }
    if (asgi_set(scope, am_asgi_keys.headers, headers) == -1 ||
        asgi_set(scope, am_asgi_keys.client,
                 asgi_addr(head->client_host, head->client_port)) == -1 ||
        asgi_set(scope, am_asgi_keys.server,
                 asgi_addr(head->server_host, head->server_port)) == -1 ||
        asgi_set(scope, am_asgi_keys.state, PyDict_Copy(am_asgi_objs.state)) ==
            -1) {
        goto fail;
    }
    if (head->trailers_allowed || head->tls != NULL) {
        PyObject *ext = PyDict_New();

        if (ext == NULL) {
            goto fail;
        }
        if (asgi_set(scope, am_asgi_keys.extensions, ext) == -1) {
            goto fail;
        }
        if (head->trailers_allowed &&
            asgi_set(ext, am_asgi_keys.http_response_trailers_ext,
                     PyDict_New()) == -1) {
            goto fail;
        }
        if (head->tls != NULL &&
            asgi_set(ext, am_asgi_keys.tls, asgi_tls_extension(head->tls)) ==
                -1) {
            goto fail;
        }
    }
    return scope;

fail:
    Py_DECREF(scope);
    return NULL;
}
