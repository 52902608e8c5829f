/*
 * Plexus plugin ABI — the whole boundary between the host and a plugin (.so).
 *
 * Pure C (C11 and C++17 clean), depends only on <stddef.h> and <stdint.h>.
 *
 * Rules that hold for everything below:
 *  - Versioning: PLEXUS_ABI_MAJOR changes only on an incompatible change; the host refuses a
 *    plugin whose major differs or whose minor is newer than its own. Every struct starts with
 *    `struct_size` and only ever grows at the end; readers look only at fields that lie inside
 *    the `struct_size` the writer set.
 *  - Nothing C++ crosses: no exceptions, STL types or RTTI. A hook must not let an exception
 *    escape (the C++ SDK installs a barrier in every hook).
 *  - Strings are borrowed `plexus_str` views (pointer + length, not NUL-terminated unless said),
 *    valid only for the duration of the call that passes them. Each side frees what it
 *    allocated; whoever needs a value longer copies it.
 *  - Statuses: 0 is never success. See plexus_status.
 *  - Threading: `create` and `destroy` of a component are called once each, never concurrently
 *    with other hooks of the same instance. `handle` of one instance may be called concurrently
 *    from several host threads for DIFFERENT stream ids; calls for one stream id are serialized
 *    and delivered in order. A `plexus_call` belongs to the thread running the hook: use it only
 *    on that thread and only until the hook returns. Functions that take a `plexus_host` are
 *    thread-safe and may be used from any thread for the instance's lifetime.
 *  - Plugins do no work in static constructors and are never unloaded (no dlclose).
 */
#ifndef PLEXUS_ABI_PLUGIN_ABI_H
#define PLEXUS_ABI_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PLEXUS_ABI_MAJOR 1
#define PLEXUS_ABI_MINOR 3

/* The one symbol the host resolves in a plugin. */
#define PLEXUS_PLUGIN_ENTRY_SYMBOL "plexus_plugin_entry_v1"

#if defined(__GNUC__)
#define PLEXUS_ABI_EXPORT __attribute__((visibility("default")))
#else
#define PLEXUS_ABI_EXPORT
#endif

/* ---------------------------------------------------------------------------------------------
 * Basic types
 * ------------------------------------------------------------------------------------------- */

/* Result of every hook and of host functions that can fail. 0 is deliberately not a value, so a
 * zeroed or forgotten return is never mistaken for success. */
typedef int32_t plexus_status;
#define PLEXUS_OK 1     /* done; effects may be committed */
#define PLEXUS_RETRY 2  /* transient failure: roll back, deliver again later with backoff */
#define PLEXUS_REJECT 3 /* permanent failure for this input: roll back, dead-letter it */
#define PLEXUS_FATAL 4  /* the plugin itself is broken: roll back, host turns not-ready */

/* Borrowed string view. `data` may be NULL only when `size` is 0. */
typedef struct plexus_str {
  const char* data;
  size_t size;
} plexus_str;

typedef int32_t plexus_log_level;
#define PLEXUS_LOG_DEBUG 1
#define PLEXUS_LOG_INFO 2
#define PLEXUS_LOG_WARN 3
#define PLEXUS_LOG_ERROR 4

/* A typed SQL value: statement parameter (plugin -> host) or result column (host -> plugin). */
typedef int32_t plexus_value_type;
#define PLEXUS_VALUE_NULL 1
#define PLEXUS_VALUE_INT64 2 /* also booleans (0/1) and money as integer cents */
#define PLEXUS_VALUE_DOUBLE 3
#define PLEXUS_VALUE_TEXT 4 /* UTF-8; JSON is stored as text */

typedef struct plexus_value {
  plexus_value_type type;
  int32_t reserved; /* 0 */
  union {
    int64_t i64;
    double f64;
    plexus_str text; /* borrowed: valid for the call (parameter) or the row callback (column) */
  } as;
} plexus_value;

/* Opaque handles owned by the host. */
typedef struct plexus_host plexus_host; /* one per component instance, lives as long as it */
typedef struct plexus_call plexus_call; /* one per hook invocation, valid until the hook returns */

/* ---------------------------------------------------------------------------------------------
 * What the host passes in
 * ------------------------------------------------------------------------------------------- */

/* A message (command or event) delivered to a receptor or perspective. All views are borrowed
 * for the duration of `handle`. `payload` is the JSON payload text. */
typedef struct plexus_message {
  uint32_t struct_size;
  uint32_t attempt;       /* 1 on first delivery */
  plexus_str id;          /* UUIDv7 of this message */
  plexus_str type;        /* e.g. "CreateOrder" */
  plexus_str stream;      /* stream id: ordering key (e.g. the orderId) */
  plexus_str correlation; /* constant across one business transaction */
  plexus_str causation;   /* id of the message (or request) that caused this one */
  plexus_str traceparent; /* W3C trace context, may be empty */
  plexus_str payload;     /* JSON */
  int64_t timestamp_unix_ms;
} plexus_message;

/* One HTTP header or path parameter. */
typedef struct plexus_pair {
  plexus_str name;
  plexus_str value;
} plexus_pair;

/* An HTTP request routed to a plugin route. All views are borrowed for the duration of
 * `handle`. The body has already been limited to the host's `max_body_bytes`. */
typedef struct plexus_request {
  uint32_t struct_size;
  uint32_t reserved;
  plexus_str method;         /* "GET", "POST", ... */
  plexus_str path;           /* decoded path, without the query string */
  plexus_str query;          /* raw query string without '?', may be empty */
  plexus_str body;           /* raw body bytes */
  plexus_str request_id;     /* X-Request-Id (given or generated) */
  const plexus_pair* params; /* path template parameters, e.g. {"id", "42"} */
  size_t param_count;
  const plexus_pair* headers; /* header names as received */
  size_t header_count;
} plexus_request;

/* Row callback for `sql`: called once per result row with `column_count` values whose views are
 * valid only during the callback. Return PLEXUS_OK to continue; anything else stops reading and
 * `sql` returns that status. */
typedef plexus_status (*plexus_row_fn)(void* user, const plexus_value* columns,
                                       size_t column_count);

/* After-commit callback: called exactly once per registration, on a host thread, after the
 * call's transaction committed (`committed` = 1) or when it rolled back (`committed` = 0, so the
 * plugin can free `user`). It must not use the plexus_call it was registered on. */
typedef void (*plexus_after_commit_fn)(void* user, int32_t committed);

typedef int32_t plexus_metric_kind;
#define PLEXUS_METRIC_COUNTER 1   /* name must end in _total; update adds value (>= 0) */
#define PLEXUS_METRIC_GAUGE 2     /* update sets value */
#define PLEXUS_METRIC_HISTOGRAM 3 /* update observes value */

/* Host services, handed to every component instance in `create`. The table is static and lives
 * as long as the process. Check `struct_size` before calling a function added after 1.0 (the
 * C++ SDK does). Functions returning plexus_status leave a human-readable reason retrievable with
 * `last_error` when they fail. */
typedef struct plexus_host_api {
  uint32_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  uint32_t reserved;

  /* ---- instance scope: thread-safe, usable for the instance's lifetime ---- */

  /* Writes one structured log line (the host adds service, plugin, component, and when called
   * during a hook the message or request id). */
  void (*log)(plexus_host* host, plexus_log_level level, plexus_str message);

  /* The plugin's `config` object from the host config, as JSON text ("{}" when absent). The view
   * stays valid for the instance's lifetime. */
  plexus_str (*config)(plexus_host* host);

  /* Wall clock, milliseconds since the Unix epoch (tests may inject a clock). */
  int64_t (*now_unix_ms)(plexus_host* host);

  /* Writes a new UUIDv7 in canonical form (36 chars) plus a NUL into `out`. */
  void (*new_id)(plexus_host* host, char out[37]);

  /* Defines (or finds, when name, kind and labels match) a metric family in the host registry.
   * `label_names` borrowed for the call. `buckets` (ascending) only for histograms; NULL/0 takes
   * the host default. Returns a handle >= 1, or 0 on error (bad name, clash). Plugins should
   * define metrics in `create`. Label values must come from a small fixed set. */
  int64_t (*metric_define)(plexus_host* host, plexus_metric_kind kind, plexus_str name,
                           plexus_str help, const plexus_str* label_names, size_t label_count,
                           const double* buckets, size_t bucket_count);

  /* Updates a metric defined by this instance; `label_values` must match the defined label
   * names in number and order. Returns PLEXUS_OK or PLEXUS_REJECT on misuse. */
  plexus_status (*metric_update)(plexus_host* host, int64_t metric, const plexus_str* label_values,
                                 size_t label_count, double value);

  /* ---- call scope: only on the hook's thread, only until the hook returns ---- */

  /* Appends an event to the call's transaction (event store + outbox); it is published only if
   * the transaction commits. `payload` is JSON; `stream` empty means the current stream. */
  plexus_status (*emit)(plexus_call* call, plexus_str type, plexus_str stream, plexus_str payload);

  /* Sends a command to its owning service, through the outbox of the call's transaction. */
  plexus_status (*send)(plexus_call* call, plexus_str type, plexus_str stream, plexus_str payload);

  /* Like `send`, delivered locally not before `deliver_at_unix_ms` (durable: survives restarts).
   * Used for saga timeouts and reservation expiry. */
  plexus_status (*schedule)(plexus_call* call, plexus_str type, plexus_str stream,
                            plexus_str payload, int64_t deliver_at_unix_ms);

  /* Runs one parameterised statement on the call's transaction. Placeholders are $1..$N on every
   * dialect. `params` borrowed for the call. `on_row` (may be NULL) receives result rows;
   * `rows_affected` (may be NULL) receives the affected row count. On failure returns RETRY
   * (transient: connection, serialization, deadlock) or REJECT (bad SQL, constraint violation);
   * the caller normally returns that status from its hook. */
  plexus_status (*sql)(plexus_call* call, plexus_str statement, const plexus_value* params,
                       size_t param_count, plexus_row_fn on_row, void* row_user,
                       int64_t* rows_affected);

  /* Registers `fn(user, committed)` to run once the call's transaction has finished. */
  plexus_status (*after_commit)(plexus_call* call, plexus_after_commit_fn fn, void* user);

  /* Sets the hook's result: for a receptor run by a route (local invoke) the JSON handed back to
   * the route; for a failing hook the reason recorded with the retry or dead letter. Copied. */
  plexus_status (*set_result)(plexus_call* call, plexus_str json);

  /* For routes: sets the HTTP response. Copied. May be called once per request. */
  plexus_status (*respond)(plexus_call* call, int32_t http_status, plexus_str content_type,
                           plexus_str body);

  /* For routes: adds a response header (before or after `respond`). Copied. */
  plexus_status (*add_header)(plexus_call* call, plexus_str name, plexus_str value);

  /* For routes: runs the receptor that owns command `type` in this process, inside this call's
   * transaction, and hands its `set_result` JSON to `on_result` (borrowed for the callback).
   * Returns the receptor's status. */
  plexus_status (*invoke)(plexus_call* call, plexus_str type, plexus_str stream, plexus_str payload,
                          void (*on_result)(void* user, plexus_str json), void* user);

  /* Reason for the last failed host function on this call (or on this thread, when `call` is
   * NULL). Valid until the next host function call on the same call/thread. */
  plexus_str (*last_error)(plexus_call* call);

  /* ---- added in ABI 1.1 ---- */

  /* Instance scope, thread-safe: sends a command (`kind` 0) or emits an event (`kind` 1) in a
   * transaction of its own, committed before it returns. For work that happens outside a hook,
   * typically an after-commit callback recording the outcome of an external effect (an email sent).
   * Returns OK once the message is durably in the outbox; RETRY when the store is unavailable. */
  plexus_status (*post)(plexus_host* host, int32_t kind, plexus_str type, plexus_str stream,
                        plexus_str payload);
} plexus_host_api;

/* ---------------------------------------------------------------------------------------------
 * What the plugin describes
 * ------------------------------------------------------------------------------------------- */

/* Creates a component instance. `api` and `host` live at least as long as the instance. Returns
 * an opaque instance pointer, or NULL on failure (after logging why): the host then refuses to
 * start. */
typedef void* (*plexus_create_fn)(const plexus_host_api* api, plexus_host* host);
typedef void (*plexus_destroy_fn)(void* instance);

/* What a message type is to the receptor that lists it (ABI 1.2). A command has exactly one
 * receptor in a host: the host refuses, at load, a second receptor listing a type that one of them
 * declares a command, and a type one receptor calls a command and another an event. Any number of
 * receptors may react to an event. */
typedef int32_t plexus_message_kind;
#define PLEXUS_MESSAGE_UNDECLARED 0 /* plugins built before 1.2, or that do not say */
#define PLEXUS_MESSAGE_COMMAND 1    /* this receptor owns the command */
#define PLEXUS_MESSAGE_EVENT 2      /* this receptor reacts to the event */

/* A receptor handles commands (and may react to events): it changes state and emits events. */
typedef struct plexus_receptor_desc {
  uint32_t struct_size;
  uint32_t reserved;
  const char* name;                 /* NUL-terminated, unique within the plugin */
  const char* const* message_types; /* NUL-terminated names of handled message types */
  size_t message_type_count;
  plexus_create_fn create;
  plexus_status (*handle)(void* instance, plexus_call* call, const plexus_message* message);
  plexus_destroy_fn destroy;

  /* ---- added in ABI 1.2 ---- */

  /* Parallel to `message_types` (same count): the kind of each type. NULL (and every field of a
   * plugin built before 1.2) means PLEXUS_MESSAGE_UNDECLARED for all of them. */
  const plexus_message_kind* message_kinds;
} plexus_receptor_desc;

/* When a perspective projects an event (ABI 1.3).
 *  ASYNC: in a transaction of its own after the event was published (the default, and every
 *    perspective of a plugin built before 1.3).
 *  INLINE: an event emitted in this host (by a receptor, a route or `post`) is projected in the
 *    transaction that emitted it, before its commit and in emission order, so the emitter's
 *    caller reads its own writes. A failure of the projection (any status but OK) fails the
 *    emitting handler: its whole transaction rolls back, events included, and the emitter is
 *    retried, dead-lettered or answered with an error as for its own failure. The event still goes
 *    to the outbox; the copy that comes back through the broker is skipped by the inbox (the
 *    projection wrote its inbox row). Events from other services are projected asynchronously.
 *    An inline perspective must not emit, send or schedule (those calls fail), and its `handle`
 *    may run for a stream while an asynchronous delivery of the same stream runs on another
 *    thread: keep the read model's writes safe under concurrency (versions or row locks). */
typedef int32_t plexus_projection;
#define PLEXUS_PROJECTION_ASYNC 0
#define PLEXUS_PROJECTION_INLINE 1

/* A perspective projects events into a read model; it must tolerate duplicates and events that
 * arrive out of order. */
typedef struct plexus_perspective_desc {
  uint32_t struct_size;
  uint32_t reserved;
  const char* name;
  const char* const* event_types;
  size_t event_type_count;
  plexus_create_fn create;
  plexus_status (*handle)(void* instance, plexus_call* call, const plexus_message* event);
  plexus_destroy_fn destroy;

  /* ---- added in ABI 1.3 ---- */

  /* PLEXUS_PROJECTION_ASYNC (0, and every plugin built before 1.3) or PLEXUS_PROJECTION_INLINE. */
  plexus_projection projection;
} plexus_perspective_desc;

/* An HTTP route: method + path template ("/api/orders/{id}"). The hook answers through
 * `respond`; returning without a response maps OK -> 204, REJECT -> 400, RETRY -> 503,
 * FATAL -> 500 (with the `set_result` reason as the JSON error when given). */
typedef struct plexus_route_desc {
  uint32_t struct_size;
  uint32_t reserved;
  const char* name;
  const char* method;
  const char* path;
  plexus_create_fn create;
  plexus_status (*handle)(void* instance, plexus_call* call, const plexus_request* request);
  plexus_destroy_fn destroy;
} plexus_route_desc;

/* A schema migration shipped inside the plugin, applied by `plexus-host migrate`. Migrations
 * are applied in ascending `version`; an applied one must never change (checksummed). */
typedef struct plexus_migration_desc {
  uint32_t struct_size;
  uint32_t version;    /* >= 1, unique per dialect within the plugin */
  const char* name;    /* short description */
  const char* dialect; /* "postgresql", "sqlite" or "any" */
  const char* sql;     /* one or more statements */
} plexus_migration_desc;

/* The plugin's static descriptor. Arrays hold pointers so each element can grow on its own. */
typedef struct plexus_plugin_desc {
  uint32_t struct_size;
  uint16_t abi_major; /* PLEXUS_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;
  const char* name;    /* plugin name, e.g. "orders" */
  const char* version; /* plugin version, e.g. "1.0.0" */
  const plexus_receptor_desc* const* receptors;
  size_t receptor_count;
  const plexus_perspective_desc* const* perspectives;
  size_t perspective_count;
  const plexus_route_desc* const* routes;
  size_t route_count;
  const plexus_migration_desc* const* migrations;
  size_t migration_count;
} plexus_plugin_desc;

/* The entry point: returns a descriptor that stays valid for the life of the process, or NULL
 * when the plugin cannot run. Called once, after dlopen, before any other hook. */
typedef const plexus_plugin_desc* (*plexus_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PLEXUS_ABI_PLUGIN_ABI_H */
