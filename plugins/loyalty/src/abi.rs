//! Rust bindings of sdk/include/plexus/abi/plugin_abi.h (ABI 1.3), written once by hand and
//! checked against the C header by a test: src/bin/abi_layout.rs prints every struct's size and
//! field offsets, test/abi_layout.c prints the same from the header, and CTest compares the two.
//! Ownership, lifetime and threading rules are the header's; read them there.
#![allow(non_camel_case_types, dead_code)]

use std::os::raw::{c_char, c_void};

pub const PLEXUS_ABI_MAJOR: u16 = 1;
pub const PLEXUS_ABI_MINOR: u16 = 3;

pub type plexus_status = i32;
pub const PLEXUS_OK: plexus_status = 1;
pub const PLEXUS_RETRY: plexus_status = 2;
pub const PLEXUS_REJECT: plexus_status = 3;
pub const PLEXUS_FATAL: plexus_status = 4;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct plexus_str {
    pub data: *const c_char,
    pub size: usize,
}

pub type plexus_log_level = i32;
pub const PLEXUS_LOG_INFO: plexus_log_level = 2;
pub const PLEXUS_LOG_ERROR: plexus_log_level = 4;

pub type plexus_value_type = i32;
pub const PLEXUS_VALUE_NULL: plexus_value_type = 1;
pub const PLEXUS_VALUE_INT64: plexus_value_type = 2;
pub const PLEXUS_VALUE_DOUBLE: plexus_value_type = 3;
pub const PLEXUS_VALUE_TEXT: plexus_value_type = 4;

#[repr(C)]
#[derive(Clone, Copy)]
pub union plexus_value_as {
    pub i64_: i64,
    pub f64_: f64,
    pub text: plexus_str,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct plexus_value {
    pub type_: plexus_value_type,
    pub reserved: i32,
    pub as_: plexus_value_as,
}

#[repr(C)]
pub struct plexus_host {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct plexus_call {
    _opaque: [u8; 0],
}

#[repr(C)]
pub struct plexus_message {
    pub struct_size: u32,
    pub attempt: u32,
    pub id: plexus_str,
    pub type_: plexus_str,
    pub stream: plexus_str,
    pub correlation: plexus_str,
    pub causation: plexus_str,
    pub traceparent: plexus_str,
    pub payload: plexus_str,
    pub timestamp_unix_ms: i64,
}

#[repr(C)]
pub struct plexus_pair {
    pub name: plexus_str,
    pub value: plexus_str,
}

#[repr(C)]
pub struct plexus_request {
    pub struct_size: u32,
    pub reserved: u32,
    pub method: plexus_str,
    pub path: plexus_str,
    pub query: plexus_str,
    pub body: plexus_str,
    pub request_id: plexus_str,
    pub params: *const plexus_pair,
    pub param_count: usize,
    pub headers: *const plexus_pair,
    pub header_count: usize,
}

pub type plexus_row_fn =
    Option<unsafe extern "C" fn(user: *mut c_void, columns: *const plexus_value, n: usize) -> plexus_status>;
pub type plexus_after_commit_fn = Option<unsafe extern "C" fn(user: *mut c_void, committed: i32)>;
pub type plexus_metric_kind = i32;

#[repr(C)]
pub struct plexus_host_api {
    pub struct_size: u32,
    pub abi_major: u32,
    pub abi_minor: u32,
    pub reserved: u32,
    pub log: unsafe extern "C" fn(*mut plexus_host, plexus_log_level, plexus_str),
    pub config: unsafe extern "C" fn(*mut plexus_host) -> plexus_str,
    pub now_unix_ms: unsafe extern "C" fn(*mut plexus_host) -> i64,
    pub new_id: unsafe extern "C" fn(*mut plexus_host, *mut c_char),
    pub metric_define: unsafe extern "C" fn(
        *mut plexus_host, plexus_metric_kind, plexus_str, plexus_str, *const plexus_str, usize,
        *const f64, usize) -> i64,
    pub metric_update:
        unsafe extern "C" fn(*mut plexus_host, i64, *const plexus_str, usize, f64) -> plexus_status,
    pub emit: unsafe extern "C" fn(*mut plexus_call, plexus_str, plexus_str, plexus_str) -> plexus_status,
    pub send: unsafe extern "C" fn(*mut plexus_call, plexus_str, plexus_str, plexus_str) -> plexus_status,
    pub schedule:
        unsafe extern "C" fn(*mut plexus_call, plexus_str, plexus_str, plexus_str, i64) -> plexus_status,
    pub sql: unsafe extern "C" fn(
        *mut plexus_call, plexus_str, *const plexus_value, usize, plexus_row_fn, *mut c_void,
        *mut i64) -> plexus_status,
    pub after_commit:
        unsafe extern "C" fn(*mut plexus_call, plexus_after_commit_fn, *mut c_void) -> plexus_status,
    pub set_result: unsafe extern "C" fn(*mut plexus_call, plexus_str) -> plexus_status,
    pub respond: unsafe extern "C" fn(*mut plexus_call, i32, plexus_str, plexus_str) -> plexus_status,
    pub add_header: unsafe extern "C" fn(*mut plexus_call, plexus_str, plexus_str) -> plexus_status,
    pub invoke: unsafe extern "C" fn(
        *mut plexus_call, plexus_str, plexus_str, plexus_str,
        Option<unsafe extern "C" fn(*mut c_void, plexus_str)>, *mut c_void) -> plexus_status,
    pub last_error: unsafe extern "C" fn(*mut plexus_call) -> plexus_str,
    // ABI 1.1
    pub post: unsafe extern "C" fn(*mut plexus_host, i32, plexus_str, plexus_str, plexus_str) -> plexus_status,
}

pub type plexus_create_fn =
    unsafe extern "C" fn(api: *const plexus_host_api, host: *mut plexus_host) -> *mut c_void;
pub type plexus_destroy_fn = unsafe extern "C" fn(instance: *mut c_void);

pub type plexus_message_kind = i32;
pub const PLEXUS_MESSAGE_UNDECLARED: plexus_message_kind = 0;
pub const PLEXUS_MESSAGE_COMMAND: plexus_message_kind = 1;
pub const PLEXUS_MESSAGE_EVENT: plexus_message_kind = 2;

pub type plexus_projection = i32;
pub const PLEXUS_PROJECTION_ASYNC: plexus_projection = 0;
pub const PLEXUS_PROJECTION_INLINE: plexus_projection = 1;

#[repr(C)]
pub struct plexus_receptor_desc {
    pub struct_size: u32,
    pub reserved: u32,
    pub name: *const c_char,
    pub message_types: *const *const c_char,
    pub message_type_count: usize,
    pub create: plexus_create_fn,
    pub handle: unsafe extern "C" fn(*mut c_void, *mut plexus_call, *const plexus_message) -> plexus_status,
    pub destroy: plexus_destroy_fn,
    // ABI 1.2
    pub message_kinds: *const plexus_message_kind,
}

#[repr(C)]
pub struct plexus_perspective_desc {
    pub struct_size: u32,
    pub reserved: u32,
    pub name: *const c_char,
    pub event_types: *const *const c_char,
    pub event_type_count: usize,
    pub create: plexus_create_fn,
    pub handle: unsafe extern "C" fn(*mut c_void, *mut plexus_call, *const plexus_message) -> plexus_status,
    pub destroy: plexus_destroy_fn,
    // ABI 1.3
    pub projection: plexus_projection,
}

#[repr(C)]
pub struct plexus_route_desc {
    pub struct_size: u32,
    pub reserved: u32,
    pub name: *const c_char,
    pub method: *const c_char,
    pub path: *const c_char,
    pub create: plexus_create_fn,
    pub handle: unsafe extern "C" fn(*mut c_void, *mut plexus_call, *const plexus_request) -> plexus_status,
    pub destroy: plexus_destroy_fn,
}

#[repr(C)]
pub struct plexus_migration_desc {
    pub struct_size: u32,
    pub version: u32,
    pub name: *const c_char,
    pub dialect: *const c_char,
    pub sql: *const c_char,
}

#[repr(C)]
pub struct plexus_plugin_desc {
    pub struct_size: u32,
    pub abi_major: u16,
    pub abi_minor: u16,
    pub name: *const c_char,
    pub version: *const c_char,
    pub receptors: *const *const plexus_receptor_desc,
    pub receptor_count: usize,
    pub perspectives: *const *const plexus_perspective_desc,
    pub perspective_count: usize,
    pub routes: *const *const plexus_route_desc,
    pub route_count: usize,
    pub migrations: *const *const plexus_migration_desc,
    pub migration_count: usize,
}

// The descriptors are immutable statics shared by every thread.
unsafe impl Sync for plexus_receptor_desc {}
unsafe impl Sync for plexus_perspective_desc {}
unsafe impl Sync for plexus_route_desc {}
unsafe impl Sync for plexus_migration_desc {}
unsafe impl Sync for plexus_plugin_desc {}

/// A field's offset, without std::mem::offset_of! (Rust 1.77; Debian 12 has 1.63).
#[macro_export]
macro_rules! offset_of {
    ($t:ty, $f:ident) => {{
        let u = ::core::mem::MaybeUninit::<$t>::uninit();
        let base = u.as_ptr();
        #[allow(unused_unsafe)]
        let field = unsafe { ::core::ptr::addr_of!((*base).$f) };
        field as usize - base as usize
    }};
}

/// One line per struct: "name size field:offset ...", the format test/abi_layout.c prints.
pub fn layout() -> String {
    use std::mem::size_of;
    let mut out = String::new();
    macro_rules! line {
        ($t:ident, $($f:ident),*) => {
            out.push_str(&format!("{} {}", stringify!($t), size_of::<$t>()));
            $( out.push_str(&format!(" {}:{}", stringify!($f).trim_end_matches('_'), offset_of!($t, $f))); )*
            out.push('\n');
        };
    }
    line!(plexus_str, data, size);
    line!(plexus_value, type_, reserved, as_);
    line!(plexus_message, struct_size, attempt, id, type_, stream, correlation, causation, traceparent, payload, timestamp_unix_ms);
    line!(plexus_pair, name, value);
    line!(plexus_request, struct_size, method, path, query, body, request_id, params, param_count, headers, header_count);
    line!(plexus_host_api, struct_size, abi_major, abi_minor, log, config, now_unix_ms, new_id, metric_define, metric_update, emit, send, schedule, sql, after_commit, set_result, respond, add_header, invoke, last_error, post);
    line!(plexus_receptor_desc, struct_size, name, message_types, message_type_count, create, handle, destroy, message_kinds);
    line!(plexus_perspective_desc, struct_size, name, event_types, event_type_count, create, handle, destroy, projection);
    line!(plexus_route_desc, struct_size, name, method, path, create, handle, destroy);
    line!(plexus_migration_desc, struct_size, version, name, dialect, sql);
    line!(plexus_plugin_desc, struct_size, abi_major, abi_minor, name, version, receptors, receptor_count, perspectives, perspective_count, routes, route_count, migrations, migration_count);
    out
}
