/* @name@: a Plexus plugin in C11 against plexus/abi/plugin_abi.h alone. One receptor owns the
 * command Add@Name@Item, one route invokes it, one migration makes the table. */
#include <plexus/abi/plugin_abi.h>

#include <stdlib.h>
#include <string.h>

typedef struct instance {
  const plexus_host_api* api;
  plexus_host* host;
} instance;

static plexus_str s(const char* text) {
  plexus_str out = {text, strlen(text)};
  return out;
}
static void* create(const plexus_host_api* api, plexus_host* host) {
  instance* self = malloc(sizeof *self);
  if (self != NULL) {
    self->api = api;
    self->host = host;
  }
  return self;
}
static void destroy(void* self) { free(self); }

static int is_object(plexus_str json) {
  size_t i = 0;
  while (i < json.size && (json.data[i] == ' ' || json.data[i] == '\n' || json.data[i] == '\t'))
    ++i;
  return i < json.size && json.data[i] == '{';
}

/* Add@Name@Item: stores the item, emits @Name@ItemAdded {"itemId", "item"}, returns it. */
static plexus_status add_item(void* p, plexus_call* call, const plexus_message* m) {
  instance* self = p;
  const plexus_host_api* api = self->api;
  char id[37];
  plexus_value params[3];
  plexus_status status;
  char* event;
  size_t size;
  if (!is_object(m->payload)) {
    api->set_result(call, s("the item must be a JSON object"));
    return PLEXUS_REJECT;
  }
  api->new_id(self->host, id);
  params[0].type = PLEXUS_VALUE_TEXT;
  params[0].as.text = s(id);
  params[1].type = PLEXUS_VALUE_TEXT;
  params[1].as.text = m->payload;
  params[2].type = PLEXUS_VALUE_INT64;
  params[2].as.i64 = api->now_unix_ms(self->host);
  status =
      api->sql(call, s("INSERT INTO @name@_items (item_id, item, added_at) VALUES ($1, $2, $3)"),
               params, 3, NULL, NULL, NULL);
  if (status != PLEXUS_OK) {
    api->set_result(call, api->last_error(call));
    return status;
  }
  /* {"itemId":"<36>","item":<payload>} */
  size = 11 + 36 + 9 + m->payload.size + 1;
  event = malloc(size + 1);
  if (event == NULL) return PLEXUS_RETRY;
  memcpy(event, "{\"itemId\":\"", 11);
  memcpy(event + 11, id, 36);
  memcpy(event + 47, "\",\"item\":", 9);
  memcpy(event + 56, m->payload.data, m->payload.size);
  event[size - 1] = '}';
  {
    const plexus_str payload = {event, size};
    const plexus_str stream = {id, 36};
    status = api->emit(call, s("@Name@ItemAdded"), stream, payload);
    if (status == PLEXUS_OK) {
      api->set_result(call, payload);
    } else {
      api->set_result(call, api->last_error(call));
    }
  }
  free(event);
  return status;
}

typedef struct text {
  char* data;
  size_t size;
} text;
static void keep(void* user, plexus_str json) {
  text* t = user;
  t->data = malloc(json.size + 1);
  if (t->data == NULL) return;
  memcpy(t->data, json.data, json.size);
  t->size = json.size;
}

/* POST /api/@name@/items: 201 with the receptor's result, 400 {"error": ...} when refused. */
static plexus_status post_item(void* p, plexus_call* call, const plexus_request* r) {
  instance* self = p;
  text result = {NULL, 0};
  const plexus_str no_stream = {NULL, 0};
  const plexus_status status =
      self->api->invoke(call, s("Add@Name@Item"), no_stream, r->body, keep, &result);
  if (status == PLEXUS_OK) {
    const plexus_str body = {result.data, result.size};
    self->api->respond(call, 201, s("application/json"), body);
  } else {
    /* No response set: the host answers 400 (REJECT) or 503 (RETRY) with the reason. */
    self->api->set_result(
        call, result.size ? (plexus_str){result.data, result.size} : self->api->last_error(call));
  }
  free(result.data);
  return status;
}

static const char* const types[] = {"Add@Name@Item"};
static const plexus_message_kind kinds[] = {PLEXUS_MESSAGE_COMMAND};
static const plexus_receptor_desc receptor = {
    sizeof(plexus_receptor_desc), 0, "AddItem", types, 1, create, add_item, destroy, kinds};
static const plexus_receptor_desc* const receptors[] = {&receptor};
static const plexus_route_desc route = {sizeof(plexus_route_desc), 0,      "PostItem", "POST",
                                        "/api/@name@/items",       create, post_item,  destroy};
static const plexus_route_desc* const routes[] = {&route};
static const plexus_migration_desc table = {
    sizeof(plexus_migration_desc), 1, "@name@ items", "any",
    "CREATE TABLE @name@_items (item_id TEXT PRIMARY KEY, item TEXT NOT NULL, "
    "added_at BIGINT NOT NULL)"};
static const plexus_migration_desc* const migrations[] = {&table};
static const plexus_plugin_desc descriptor = {sizeof(plexus_plugin_desc),
                                              PLEXUS_ABI_MAJOR,
                                              PLEXUS_ABI_MINOR,
                                              "@name@",
                                              "0.1.0",
                                              receptors,
                                              1,
                                              NULL,
                                              0,
                                              routes,
                                              1,
                                              migrations,
                                              1};

PLEXUS_ABI_EXPORT const plexus_plugin_desc* plexus_plugin_entry_v1(void);
const plexus_plugin_desc* plexus_plugin_entry_v1(void) { return &descriptor; }
