/* Prints the C header's layout in the format of src/abi.rs's layout(): CTest compares the two,
 * so the Rust bindings cannot drift from plugin_abi.h. */
#include <plexus/abi/plugin_abi.h>

#include <stddef.h>
#include <stdio.h>

#define F(t, f) printf(" %s:%zu", #f, offsetof(t, f))
#define T(t) printf("%s %zu", #t, sizeof(t))

int main(void) {
  T(plexus_str), F(plexus_str, data), F(plexus_str, size), puts("");
  T(plexus_value), F(plexus_value, type), F(plexus_value, reserved), F(plexus_value, as), puts("");
  T(plexus_message), F(plexus_message, struct_size), F(plexus_message, attempt),
      F(plexus_message, id), F(plexus_message, type), F(plexus_message, stream),
      F(plexus_message, correlation), F(plexus_message, causation), F(plexus_message, traceparent),
      F(plexus_message, payload), F(plexus_message, timestamp_unix_ms), puts("");
  T(plexus_pair), F(plexus_pair, name), F(plexus_pair, value), puts("");
  T(plexus_request), F(plexus_request, struct_size), F(plexus_request, method),
      F(plexus_request, path), F(plexus_request, query), F(plexus_request, body),
      F(plexus_request, request_id), F(plexus_request, params), F(plexus_request, param_count),
      F(plexus_request, headers), F(plexus_request, header_count), puts("");
  T(plexus_host_api), F(plexus_host_api, struct_size), F(plexus_host_api, abi_major),
      F(plexus_host_api, abi_minor), F(plexus_host_api, log), F(plexus_host_api, config),
      F(plexus_host_api, now_unix_ms), F(plexus_host_api, new_id),
      F(plexus_host_api, metric_define), F(plexus_host_api, metric_update),
      F(plexus_host_api, emit), F(plexus_host_api, send), F(plexus_host_api, schedule),
      F(plexus_host_api, sql), F(plexus_host_api, after_commit), F(plexus_host_api, set_result),
      F(plexus_host_api, respond), F(plexus_host_api, add_header), F(plexus_host_api, invoke),
      F(plexus_host_api, last_error), F(plexus_host_api, post), puts("");
  T(plexus_receptor_desc), F(plexus_receptor_desc, struct_size), F(plexus_receptor_desc, name),
      F(plexus_receptor_desc, message_types), F(plexus_receptor_desc, message_type_count),
      F(plexus_receptor_desc, create), F(plexus_receptor_desc, handle),
      F(plexus_receptor_desc, destroy), F(plexus_receptor_desc, message_kinds), puts("");
  T(plexus_perspective_desc), F(plexus_perspective_desc, struct_size),
      F(plexus_perspective_desc, name), F(plexus_perspective_desc, event_types),
      F(plexus_perspective_desc, event_type_count), F(plexus_perspective_desc, create),
      F(plexus_perspective_desc, handle), F(plexus_perspective_desc, destroy),
      F(plexus_perspective_desc, projection), puts("");
  T(plexus_route_desc), F(plexus_route_desc, struct_size), F(plexus_route_desc, name),
      F(plexus_route_desc, method), F(plexus_route_desc, path), F(plexus_route_desc, create),
      F(plexus_route_desc, handle), F(plexus_route_desc, destroy), puts("");
  T(plexus_migration_desc), F(plexus_migration_desc, struct_size),
      F(plexus_migration_desc, version), F(plexus_migration_desc, name),
      F(plexus_migration_desc, dialect), F(plexus_migration_desc, sql), puts("");
  T(plexus_plugin_desc), F(plexus_plugin_desc, struct_size), F(plexus_plugin_desc, abi_major),
      F(plexus_plugin_desc, abi_minor), F(plexus_plugin_desc, name), F(plexus_plugin_desc, version),
      F(plexus_plugin_desc, receptors), F(plexus_plugin_desc, receptor_count),
      F(plexus_plugin_desc, perspectives), F(plexus_plugin_desc, perspective_count),
      F(plexus_plugin_desc, routes), F(plexus_plugin_desc, route_count),
      F(plexus_plugin_desc, migrations), F(plexus_plugin_desc, migration_count), puts("");
  return 0;
}
