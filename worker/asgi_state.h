/* worker/asgi_state.h: what the bridge's files (asgi.c, asgi_call.c,
 * asgi_http.c, asgi_scope.c) share: the request object's layout, the
 * interned keys and the Python objects set up once per worker.
 * Python types: include after <Python.h>, from worker/asgi*.c only.
 * SPDX-License-Identifier: BSD-2-Clause
 */
#ifndef AM_WORKER_ASGI_STATE_H
#define AM_WORKER_ASGI_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "worker/asgi.h"

struct am_asgi_request_s {
    PyObject_HEAD void *stream; /* the protocol's; NULL once released */
    const am_asgi_ops_t *ops;
    uint64_t conn_id;
    uint32_t stream_id;
    PyObject *chunks; /* owned: list of bytes not yet received (NULL: none
                         yet), of messages for a WebSocket session */
    PyObject *receive_waiter; /* owned future or NULL */
    PyObject *send_waiter;    /* owned future or NULL */
    size_t buffered;
    unsigned body_done : 1;      /* the last body byte is in chunks */
    unsigned body_delivered : 1; /* more_body=False was received */
    unsigned disconnected : 1;
    unsigned started : 1;
    unsigned finished : 1; /* the response is complete */
    unsigned trailers : 1; /* the app announced trailers */
    unsigned app_ended : 1;
    unsigned released : 1;
    /* WebSocket sessions (asgi_ws.c) */
    unsigned websocket : 1;  /* a websocket scope */
    unsigned connected : 1;  /* websocket.connect was received */
    unsigned accepted : 1;   /* websocket.accept was taken */
    unsigned responding : 1; /* a denial response started */
    const am_asgi_ws_ops_t *ws_ops;
    int close_code;          /* for websocket.disconnect */
    PyObject *close_reason;  /* owned str or NULL */
    PyObject *coro;          /* owned until its first step (asgi.c) */
    am_asgi_head_t *head;    /* owned PyMem copy until the first step, when
                                the scope is built from it (coro NULL) */
    am_asgi_request_t *next; /* in the list waiting for a first step */
};

/* Interned keys and values (am_asgi_init()). */
typedef struct am_asgi_keys_s {
    PyObject *type, *http, *asgi, *http_version, *method, *scheme, *path,
        *raw_path, *query_string, *root_path, *headers, *client, *server,
        *state, *extensions, *body, *more_body, *status, *trailers,
        *http_request, *http_disconnect, *http_response_start,
        *http_response_body, *http_response_trailers, *set_result,
        *set_exception, *done, *cancelled, *version, *spec_version,
        *http_response_trailers_ext, *more_trailers, *tls, *websocket,
        *subprotocols, *subprotocol, *code, *reason, *text, *bytes, *ws_connect,
        *ws_accept, *ws_receive, *ws_send, *ws_close, *ws_disconnect,
        *ws_http_response_start, *ws_http_response_body, *ws_http_response,
        *server_cert, *client_cert_chain, *client_cert_name, *client_cert_error,
        *tls_version, *cipher_suite;
} am_asgi_keys_t;

/* Objects of the app and its loop (am_asgi_start()) and templates
 * (am_asgi_init()); all owned. */
typedef struct am_asgi_objs_s {
    PyObject *app;              /* owned */
    PyObject *state;            /* owned: lifespan state dict */
    PyObject *create_task;      /* owned: loop.create_task */
    PyObject *create_future;    /* owned: loop.create_future */
    PyObject *loop;             /* owned */
    PyObject *loop_dict;        /* owned: the loop's __dict__ */
    PyObject *task_type;        /* owned: asyncio.Task */
    PyObject *call_soon_key;    /* owned: "call_soon" */
    PyObject *task_factory_key; /* owned: "_task_factory" */
    PyObject *capture;          /* owned: asgi_capture_call_soon() */
    PyObject *call_soon;        /* owned: loop.call_soon */
    PyObject *name_key;         /* owned: "name" */
    PyObject *task_kwargs;      /* owned: {"loop": loop, "name": ...} */
    PyObject *disconnected_exc; /* owned: ClientDisconnected */
    PyObject *log_exception;    /* owned: runtime.log_exception */
    PyObject *scope_asgi;       /* owned: {"version": "3.0", ...} */
    PyObject *root_path;        /* owned */
    PyObject *scheme_http, *scheme_https;
    PyObject *ver_10, *ver_11, *ver_2;
    PyObject *ready_none;     /* owned: the shared done awaitable */
    PyObject *msg_disconnect; /* owned template */
    PyObject *empty_bytes;
} am_asgi_objs_t;

extern am_asgi_keys_t am_asgi_keys;
extern am_asgi_objs_t am_asgi_objs;

/* asgi.c */

/* An awaitable already done with value (None if NULL): new reference. */
PyObject *am_asgi_ready_new(PyObject *value);
/* Resolve the future in *slot with method(value) unless the app cancelled
 * it; *slot is cleared and its reference dropped. */
void am_asgi_future_resolve(PyObject **slot, PyObject *method, PyObject *value);
/* The request object for scope (stolen; NULL: fail) and its app task;
 * ws_ops set for a WebSocket session. */
am_asgi_request_t *
am_asgi_request_start(PyObject *scope, const am_asgi_head_t *head,
                      const am_asgi_ops_t *ops, const am_asgi_ws_ops_t *ws_ops,
                      void *stream, uint64_t conn_id, uint32_t stream_id);
/* receive (send 0) or send (1) of r, as a new callable. */
PyObject *am_asgi_request_callable(am_asgi_request_t *r, int send);
/* How the app ended: returned, raised exc (logged unless it is the app's
 * reaction to a disconnect), or its task was given up (closed). */
void am_asgi_request_app_done(am_asgi_request_t *r);
void am_asgi_request_app_failed(am_asgi_request_t *r, PyObject *exc);
void am_asgi_request_app_closed(am_asgi_request_t *r);
/* A new {"type": "http.disconnect"} message. */
PyObject *am_asgi_disconnect_message(void);
/* Raise ClientDisconnected; returns NULL. */
PyObject *am_asgi_disconnected_error(void);

/* asgi_call.c: the coroutine of r's app task, to call app(scope, ...)
 * at its first step (new reference) or NULL. */
PyObject *am_asgi_call_new(am_asgi_request_t *r, PyObject *scope);
/* Add the AppCall type to the _asgimaster module: 0 or -1. */
int am_asgi_call_ready(PyObject *module);

/* asgi_http.c: the HTTP events (asgiref www.rst). */
/* The next http.request message from the buffered body (new reference);
 * *consumed is the byte count it takes. */
PyObject *am_asgi_http_take_body(am_asgi_request_t *r, size_t *consumed);
PyObject *am_asgi_http_receive(am_asgi_request_t *r, PyObject *unused);
PyObject *am_asgi_http_send(am_asgi_request_t *r, PyObject *msg);
/* A 500 of our own when the app failed before starting a response. */
void am_asgi_http_send_500(am_asgi_request_t *r);

/* asgi_ws.c: the WebSocket events (asgiref www.rst, "WebSocket"). */
PyObject *am_asgi_ws_receive(am_asgi_request_t *r, PyObject *unused);
PyObject *am_asgi_ws_send(am_asgi_request_t *r, PyObject *msg);
/* The app task ended: close the session as the spec says. */
void am_asgi_ws_ended(am_asgi_request_t *r, int failed);
/* A new websocket.disconnect message (code, reason of r). */
PyObject *am_asgi_ws_disconnect_message(am_asgi_request_t *r);
void am_asgi_ws_keys_init(PyObject *(*intern)(const char *));

/* asgi_scope.c: the http scope of head (new reference) or NULL. */
PyObject *am_asgi_scope_build(const am_asgi_head_t *head);
/* The scope's template and cached values, after the keys and objects of
 * am_asgi_init(): 0 or -1 with a Python exception set. */
int am_asgi_scope_init(void);

#endif
