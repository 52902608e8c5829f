/* audit: an audit trail, written in C11 against plexus/abi/plugin_abi.h alone (no SDK, no JSON
 * library). It shows the whole C boundary: a receptor that owns a command, a perspective on other
 * plugins' events, two routes (one invokes the receptor), a migration, SQL with $N parameters,
 * emit, set_result and respond.
 *
 *   POST /api/audit/{streamId}/notes  {"note": "..."}  -> 201 the recorded entry (RecordAuditNote)
 *   GET  /api/audit/{streamId}                         -> 200 {"streamId", "entries": [...]}
 *   OrderCreated, OrderCancelled (events)              -> one entry each, redeliveries ignored
 *
 * JSON is never parsed here: payloads are stored and embedded as the text they are, and the host
 * refuses an emitted payload that is not JSON, which this plugin turns into a 400. */
#include <plexus/abi/plugin_abi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct audit_instance {
  const plexus_host_api* api;
  plexus_host* host;
} audit_instance;

static plexus_str s(const char* text) {
  plexus_str out = {text, strlen(text)};
  return out;
}

static void* create(const plexus_host_api* api, plexus_host* host) {
  audit_instance* self = malloc(sizeof *self);
  if (self == NULL) return NULL;
  self->api = api;
  self->host = host;
  return self;
}
static void destroy(void* instance) { free(instance); }

/* ---- a growable text buffer and JSON string escaping ---- */

typedef struct buffer {
  char* data;
  size_t size;
  size_t cap;
  int failed;
} buffer;

static void put(buffer* b, const char* text, size_t n) {
  if (b->failed) return;
  if (b->size + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->size + n + 1) cap *= 2;
    char* grown = realloc(b->data, cap);
    if (grown == NULL) {
      b->failed = 1;
      return;
    }
    b->data = grown;
    b->cap = cap;
  }
  memcpy(b->data + b->size, text, n);
  b->size += n;
  b->data[b->size] = '\0';
}
static void puts_(buffer* b, const char* text) { put(b, text, strlen(text)); }
static void put_json_string(buffer* b, const char* text, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i;
  put(b, "\"", 1);
  for (i = 0; i < n; ++i) {
    const unsigned char c = (unsigned char)text[i];
    if (c == '"' || c == '\\') {
      const char esc[2] = {'\\', (char)c};
      put(b, esc, 2);
    } else if (c < 0x20) {
      const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      put(b, esc, 6);
    } else {
      put(b, (const char*)&c, 1);
    }
  }
  put(b, "\"", 1);
}
static void put_int(buffer* b, int64_t v) {
  char digits[32];
  snprintf(digits, sizeof digits, "%lld", (long long)v);
  puts_(b, digits);
}

/* The reason of the last failed host call, as the hook's result. */
static plexus_status failed(audit_instance* self, plexus_call* call, plexus_status status) {
  self->api->set_result(call, self->api->last_error(call));
  return status;
}

static int is_object(plexus_str json) {
  size_t i = 0;
  while (i < json.size && (json.data[i] == ' ' || json.data[i] == '\t' || json.data[i] == '\r' ||
                           json.data[i] == '\n'))
    ++i;
  return i < json.size && json.data[i] == '{';
}

/* ---- RecordAuditNote: the command this plugin owns ---- */

/* [receptor] */
static plexus_status record_note(void* instance, plexus_call* call, const plexus_message* m) {
  audit_instance* self = instance;
  const plexus_host_api* api = self->api;
  char id[37];
  plexus_value params[4];
  buffer event = {0};
  plexus_status status;
  const int64_t now = api->now_unix_ms(self->host);
  if (m->stream.size == 0) {
    api->set_result(call, s("the stream (the audited id) is required"));
    return PLEXUS_REJECT;
  }
  if (!is_object(m->payload)) {
    api->set_result(call, s("the note must be a JSON object"));
    return PLEXUS_REJECT;
  }
  api->new_id(self->host, id);
  params[0].type = PLEXUS_VALUE_TEXT;
  params[0].as.text = s(id);
  params[1].type = PLEXUS_VALUE_TEXT;
  params[1].as.text = m->stream;
  params[2].type = PLEXUS_VALUE_TEXT;
  params[2].as.text = m->payload;
  params[3].type = PLEXUS_VALUE_INT64;
  params[3].as.i64 = now;
  status = api->sql(call,
                    s("INSERT INTO audit_entries (entry_id, stream_id, kind, type, body, "
                      "recorded_at) VALUES ($1, $2, 'note', 'RecordAuditNote', $3, $4)"),
                    params, 4, NULL, NULL, NULL);
  if (status != PLEXUS_OK) return failed(self, call, status);
  puts_(&event, "{\"entryId\":");
  put_json_string(&event, id, 36);
  puts_(&event, ",\"streamId\":");
  put_json_string(&event, m->stream.data, m->stream.size);
  puts_(&event, ",\"note\":");
  put(&event, m->payload.data, m->payload.size);
  puts_(&event, ",\"recordedAtMs\":");
  put_int(&event, now);
  puts_(&event, "}");
  if (event.failed) {
    free(event.data);
    api->set_result(call, s("out of memory"));
    return PLEXUS_RETRY;
  }
  {
    const plexus_str payload = {event.data, event.size};
    const plexus_str no_stream = {NULL, 0};
    status = api->emit(call, s("AuditNoteRecorded"), no_stream, payload);
    if (status == PLEXUS_OK) api->set_result(call, payload); /* what POST answers */
  }
  free(event.data);
  return status == PLEXUS_OK ? PLEXUS_OK : failed(self, call, status);
}
/* [/receptor] */

/* ---- AuditTrail: other plugins' events, one entry each ---- */

static plexus_status trail(void* instance, plexus_call* call, const plexus_message* m) {
  audit_instance* self = instance;
  plexus_value params[5];
  plexus_status status;
  params[0].type = PLEXUS_VALUE_TEXT;
  params[0].as.text = m->id; /* keyed by the message id: a redelivery changes nothing */
  params[1].type = PLEXUS_VALUE_TEXT;
  params[1].as.text = m->stream;
  params[2].type = PLEXUS_VALUE_TEXT;
  params[2].as.text = m->type;
  params[3].type = PLEXUS_VALUE_TEXT;
  params[3].as.text = m->payload;
  params[4].type = PLEXUS_VALUE_INT64;
  params[4].as.i64 = m->timestamp_unix_ms;
  status = self->api->sql(call,
                          s("INSERT INTO audit_entries (entry_id, stream_id, kind, type, body, "
                            "recorded_at) VALUES ($1, $2, 'event', $3, $4, $5) "
                            "ON CONFLICT (entry_id) DO NOTHING"),
                          params, 5, NULL, NULL, NULL);
  return status == PLEXUS_OK ? PLEXUS_OK : failed(self, call, status);
}

/* ---- routes ---- */

static plexus_str param(const plexus_request* r, const char* name) {
  size_t i;
  plexus_str none = {NULL, 0};
  for (i = 0; i < r->param_count; ++i) {
    if (r->params[i].name.size == strlen(name) &&
        memcmp(r->params[i].name.data, name, r->params[i].name.size) == 0)
      return r->params[i].value;
  }
  return none;
}

static void copy_result(void* user, plexus_str json) {
  buffer* b = user;
  put(b, json.data, json.size);
}

static plexus_status respond_error(audit_instance* self, plexus_call* call, int32_t status,
                                   plexus_str reason) {
  buffer body = {0};
  puts_(&body, "{\"error\":");
  put_json_string(&body, reason.data, reason.size);
  puts_(&body, "}");
  {
    const plexus_str text = {body.data, body.size};
    self->api->respond(call, status, s("application/json"), text);
  }
  free(body.data);
  return PLEXUS_OK;
}

static plexus_status post_note(void* instance, plexus_call* call, const plexus_request* r) {
  audit_instance* self = instance;
  buffer result = {0};
  const plexus_status status = self->api->invoke(call, s("RecordAuditNote"), param(r, "streamId"),
                                                 r->body, copy_result, &result);
  if (status == PLEXUS_OK) {
    const plexus_str text = {result.data, result.size};
    self->api->respond(call, 201, s("application/json"), text);
  } else {
    const plexus_str reason = {result.data, result.size};
    respond_error(self, call, status == PLEXUS_REJECT ? 400 : 503,
                  result.size ? reason : self->api->last_error(call));
  }
  free(result.data);
  return status;
}

typedef struct listing {
  buffer out;
  int rows;
} listing;

static plexus_status add_entry(void* user, const plexus_value* cols, size_t n) {
  listing* l = user;
  if (n != 5) return PLEXUS_FATAL;
  puts_(&l->out, l->rows++ ? ",{\"entryId\":" : "{\"entryId\":");
  put_json_string(&l->out, cols[0].as.text.data, cols[0].as.text.size);
  puts_(&l->out, ",\"kind\":");
  put_json_string(&l->out, cols[1].as.text.data, cols[1].as.text.size);
  puts_(&l->out, ",\"type\":");
  put_json_string(&l->out, cols[2].as.text.data, cols[2].as.text.size);
  puts_(&l->out, ",\"body\":");
  put(&l->out, cols[3].as.text.data, cols[3].as.text.size); /* stored JSON, embedded as is */
  puts_(&l->out, ",\"recordedAtMs\":");
  put_int(&l->out, cols[4].as.i64);
  puts_(&l->out, "}");
  return l->out.failed ? PLEXUS_RETRY : PLEXUS_OK;
}

static plexus_status get_trail(void* instance, plexus_call* call, const plexus_request* r) {
  audit_instance* self = instance;
  const plexus_str stream = param(r, "streamId");
  plexus_value id;
  listing l = {{0}, 0};
  plexus_status status;
  id.type = PLEXUS_VALUE_TEXT;
  id.as.text = stream;
  puts_(&l.out, "{\"streamId\":");
  put_json_string(&l.out, stream.data, stream.size);
  puts_(&l.out, ",\"entries\":[");
  status = self->api->sql(call,
                          s("SELECT entry_id, kind, type, body, recorded_at FROM audit_entries "
                            "WHERE stream_id = $1 ORDER BY recorded_at, entry_id"),
                          &id, 1, add_entry, &l, NULL);
  puts_(&l.out, "]}");
  if (status == PLEXUS_OK && !l.out.failed) {
    const plexus_str text = {l.out.data, l.out.size};
    self->api->respond(call, 200, s("application/json"), text);
  }
  free(l.out.data);
  return status == PLEXUS_OK ? PLEXUS_OK : failed(self, call, status);
}

/* ---- the descriptor ---- */

/* [descriptor] */
static const char* const note_types[] = {"RecordAuditNote"};
static const plexus_message_kind note_kinds[] = {PLEXUS_MESSAGE_COMMAND};
static const plexus_receptor_desc note_receptor = {sizeof(plexus_receptor_desc),
                                                   0,
                                                   "RecordAuditNote",
                                                   note_types,
                                                   1,
                                                   create,
                                                   record_note,
                                                   destroy,
                                                   note_kinds};
static const plexus_receptor_desc* const receptors[] = {&note_receptor};

static const char* const trail_types[] = {"OrderCreated", "OrderCancelled"};
static const plexus_perspective_desc trail_perspective = {
    sizeof(plexus_perspective_desc), 0, "AuditTrail", trail_types, 2, create, trail, destroy,
    PLEXUS_PROJECTION_ASYNC};
static const plexus_perspective_desc* const perspectives[] = {&trail_perspective};

static const plexus_route_desc post_route = {
    sizeof(plexus_route_desc),     0,      "PostAuditNote", "POST",
    "/api/audit/{streamId}/notes", create, post_note,       destroy};
static const plexus_route_desc get_route = {
    sizeof(plexus_route_desc), 0,      "GetAuditTrail", "GET",
    "/api/audit/{streamId}",   create, get_trail,       destroy};
static const plexus_route_desc* const routes[] = {&post_route, &get_route};

static const plexus_migration_desc table = {
    sizeof(plexus_migration_desc), 1, "audit entries", "any",
    "CREATE TABLE audit_entries (entry_id TEXT PRIMARY KEY, stream_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, recorded_at BIGINT NOT NULL);"
    "CREATE INDEX audit_entries_by_stream ON audit_entries (stream_id, recorded_at)"};
static const plexus_migration_desc* const migrations[] = {&table};

static const plexus_plugin_desc descriptor = {sizeof(plexus_plugin_desc),
                                              PLEXUS_ABI_MAJOR,
                                              PLEXUS_ABI_MINOR,
                                              "audit",
                                              "1.0.0",
                                              receptors,
                                              1,
                                              perspectives,
                                              1,
                                              routes,
                                              2,
                                              migrations,
                                              1};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &descriptor; }
/* [/descriptor] */
