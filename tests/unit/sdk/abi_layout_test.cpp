// Freezes the plugin ABI layout (x86_64 / LP64). A failing assert here means a change broke every
// plugin already built: structs may only grow at the end, with a minor version bump.
#include <plexus/abi/plugin_abi.h>

#include <gtest/gtest.h>

#include <cstddef>

static_assert(PLEXUS_ABI_MAJOR == 1, "ABI major changed: every plugin must be rebuilt");
static_assert(PLEXUS_OK != 0 && PLEXUS_RETRY != 0 && PLEXUS_REJECT != 0 && PLEXUS_FATAL != 0,
              "0 is never a status");
static_assert(PLEXUS_OK == 1 && PLEXUS_RETRY == 2 && PLEXUS_REJECT == 3 && PLEXUS_FATAL == 4);

static_assert(sizeof(plexus_str) == 16);
static_assert(sizeof(plexus_value) == 24 && offsetof(plexus_value, as) == 8);
static_assert(sizeof(plexus_pair) == 32);

static_assert(offsetof(plexus_message, attempt) == 4);
static_assert(offsetof(plexus_message, id) == 8);
static_assert(offsetof(plexus_message, type) == 24);
static_assert(offsetof(plexus_message, stream) == 40);
static_assert(offsetof(plexus_message, correlation) == 56);
static_assert(offsetof(plexus_message, causation) == 72);
static_assert(offsetof(plexus_message, traceparent) == 88);
static_assert(offsetof(plexus_message, payload) == 104);
static_assert(offsetof(plexus_message, timestamp_unix_ms) == 120);
static_assert(sizeof(plexus_message) == 128);

static_assert(offsetof(plexus_request, method) == 8);
static_assert(offsetof(plexus_request, request_id) == 72);
static_assert(offsetof(plexus_request, params) == 88);
static_assert(offsetof(plexus_request, headers) == 104);
static_assert(sizeof(plexus_request) == 120);

static_assert(offsetof(plexus_host_api, log) == 16);
static_assert(offsetof(plexus_host_api, config) == 24);
static_assert(offsetof(plexus_host_api, now_unix_ms) == 32);
static_assert(offsetof(plexus_host_api, new_id) == 40);
static_assert(offsetof(plexus_host_api, metric_define) == 48);
static_assert(offsetof(plexus_host_api, metric_update) == 56);
static_assert(offsetof(plexus_host_api, emit) == 64);
static_assert(offsetof(plexus_host_api, send) == 72);
static_assert(offsetof(plexus_host_api, schedule) == 80);
static_assert(offsetof(plexus_host_api, sql) == 88);
static_assert(offsetof(plexus_host_api, after_commit) == 96);
static_assert(offsetof(plexus_host_api, set_result) == 104);
static_assert(offsetof(plexus_host_api, respond) == 112);
static_assert(offsetof(plexus_host_api, add_header) == 120);
static_assert(offsetof(plexus_host_api, invoke) == 128);
static_assert(offsetof(plexus_host_api, last_error) == 136);
static_assert(offsetof(plexus_host_api, post) == 144);  // 1.1
static_assert(sizeof(plexus_host_api) == 152);

static_assert(offsetof(plexus_receptor_desc, name) == 8);
static_assert(offsetof(plexus_receptor_desc, message_types) == 16);
static_assert(offsetof(plexus_receptor_desc, create) == 32);
static_assert(offsetof(plexus_receptor_desc, handle) == 40);
static_assert(offsetof(plexus_receptor_desc, message_kinds) == 56);  // 1.2
static_assert(sizeof(plexus_receptor_desc) == 64);
static_assert(offsetof(plexus_perspective_desc, projection) == 56);  // 1.3
static_assert(sizeof(plexus_perspective_desc) == 64);
static_assert(offsetof(plexus_route_desc, method) == 16 && offsetof(plexus_route_desc, path) == 24);
static_assert(sizeof(plexus_route_desc) == 56);
static_assert(sizeof(plexus_migration_desc) == 32);

static_assert(offsetof(plexus_plugin_desc, abi_major) == 4 &&
              offsetof(plexus_plugin_desc, abi_minor) == 6);
static_assert(offsetof(plexus_plugin_desc, name) == 8 &&
              offsetof(plexus_plugin_desc, version) == 16);
static_assert(offsetof(plexus_plugin_desc, receptors) == 24);
static_assert(offsetof(plexus_plugin_desc, perspectives) == 40);
static_assert(offsetof(plexus_plugin_desc, routes) == 56);
static_assert(offsetof(plexus_plugin_desc, migrations) == 72);
static_assert(sizeof(plexus_plugin_desc) == 88);

extern "C" int plexus_abi_c_sizes(size_t* sizes, size_t n);

// The header also compiles as C11 (abi_c_compile.c); both languages must agree on every size.
TEST(AbiLayout, CAndCxxAgree) {
  size_t c[8] = {};
  ASSERT_EQ(plexus_abi_c_sizes(c, 8), 8);
  EXPECT_EQ(c[0], sizeof(plexus_str));
  EXPECT_EQ(c[1], sizeof(plexus_value));
  EXPECT_EQ(c[2], sizeof(plexus_message));
  EXPECT_EQ(c[3], sizeof(plexus_request));
  EXPECT_EQ(c[4], sizeof(plexus_host_api));
  EXPECT_EQ(c[5], sizeof(plexus_receptor_desc));
  EXPECT_EQ(c[6], sizeof(plexus_route_desc));
  EXPECT_EQ(c[7], sizeof(plexus_plugin_desc));
}
