//! @name@: a Plexus plugin in Rust, against the ABI bindings in abi.rs (a copy of the SDK's,
//! checked against plugin_abi.h there). One receptor owns the command Add@Name@Item, one route
//! invokes it, one migration makes the table.
#[allow(dead_code)]
mod abi;

use abi::*;
use std::ffi::c_void;
use std::os::raw::c_char;

struct Instance {
    api: *const plexus_host_api,
    host: *mut plexus_host,
}

fn s(text: &str) -> plexus_str {
    plexus_str { data: text.as_ptr() as *const c_char, size: text.len() }
}
unsafe fn bytes<'a>(v: plexus_str) -> &'a [u8] {
    if v.size == 0 { &[] } else { std::slice::from_raw_parts(v.data as *const u8, v.size) }
}
fn value_text(v: &str) -> plexus_value {
    plexus_value { type_: PLEXUS_VALUE_TEXT, reserved: 0, as_: plexus_value_as { text: s(v) } }
}

unsafe extern "C" fn create(api: *const plexus_host_api, host: *mut plexus_host) -> *mut c_void {
    Box::into_raw(Box::new(Instance { api, host })) as *mut c_void
}
unsafe extern "C" fn destroy(instance: *mut c_void) {
    drop(Box::from_raw(instance as *mut Instance));
}

/// Add@Name@Item: stores the item, emits @Name@ItemAdded {"itemId", "item"}, returns it.
unsafe extern "C" fn add_item(i: *mut c_void, call: *mut plexus_call, m: *const plexus_message) -> plexus_status {
    let this = &*(i as *const Instance);
    let api = &*this.api;
    let item = String::from_utf8_lossy(bytes((*m).payload)).into_owned();
    if !item.trim_start().starts_with('{') {
        (api.set_result)(call, s("the item must be a JSON object"));
        return PLEXUS_REJECT;
    }
    let mut id = [0 as c_char; 37];
    (api.new_id)(this.host, id.as_mut_ptr());
    let id = String::from_utf8_lossy(&*(&id[..36] as *const [c_char] as *const [u8])).into_owned();
    let now = plexus_value { type_: PLEXUS_VALUE_INT64, reserved: 0,
                             as_: plexus_value_as { i64_: (api.now_unix_ms)(this.host) } };
    let params = [value_text(&id), value_text(&item), now];
    let status = (api.sql)(call, s("INSERT INTO @name@_items (item_id, item, added_at) VALUES ($1, $2, $3)"),
                           params.as_ptr(), params.len(), None, std::ptr::null_mut(), std::ptr::null_mut());
    if status != PLEXUS_OK {
        (api.set_result)(call, (api.last_error)(call));
        return status;
    }
    let event = format!("{{\"itemId\":\"{}\",\"item\":{}}}", id, item);
    let status = (api.emit)(call, s("@Name@ItemAdded"), s(&id), s(&event));
    (api.set_result)(call, if status == PLEXUS_OK { s(&event) } else { (api.last_error)(call) });
    status
}

unsafe extern "C" fn keep(user: *mut c_void, json: plexus_str) {
    *(user as *mut Vec<u8>) = bytes(json).to_vec();
}

/// POST /api/@name@/items: 201 with the receptor's result; refused: the host answers 400 or 503.
unsafe extern "C" fn post_item(i: *mut c_void, call: *mut plexus_call, r: *const plexus_request) -> plexus_status {
    let api = &*(*(i as *const Instance)).api;
    let mut result: Vec<u8> = Vec::new();
    let status = (api.invoke)(call, s("Add@Name@Item"), s(""), (*r).body, Some(keep),
                              &mut result as *mut Vec<u8> as *mut c_void);
    let text = plexus_str { data: result.as_ptr() as *const c_char, size: result.len() };
    if status == PLEXUS_OK {
        (api.respond)(call, 201, s("application/json"), text);
    } else {
        (api.set_result)(call, if result.is_empty() { (api.last_error)(call) } else { text });
    }
    status
}

macro_rules! cstr {
    ($s:expr) => { concat!($s, "\0").as_ptr() as *const c_char };
}
struct Table<T: 'static, const N: usize>([T; N]);
unsafe impl<T, const N: usize> Sync for Table<T, N> {}

static TYPES: Table<*const c_char, 1> = Table([cstr!("Add@Name@Item")]);
static KINDS: [plexus_message_kind; 1] = [PLEXUS_MESSAGE_COMMAND];
static RECEPTOR: plexus_receptor_desc = plexus_receptor_desc {
    struct_size: std::mem::size_of::<plexus_receptor_desc>() as u32, reserved: 0,
    name: cstr!("AddItem"), message_types: &TYPES.0 as *const _ as *const *const c_char,
    message_type_count: 1, create, handle: add_item, destroy,
    message_kinds: &KINDS as *const _ as *const plexus_message_kind,
};
static RECEPTORS: Table<*const plexus_receptor_desc, 1> = Table([&RECEPTOR]);
static ROUTE: plexus_route_desc = plexus_route_desc {
    struct_size: std::mem::size_of::<plexus_route_desc>() as u32, reserved: 0,
    name: cstr!("PostItem"), method: cstr!("POST"), path: cstr!("/api/@name@/items"),
    create, handle: post_item, destroy,
};
static ROUTES: Table<*const plexus_route_desc, 1> = Table([&ROUTE]);
static MIGRATION: plexus_migration_desc = plexus_migration_desc {
    struct_size: std::mem::size_of::<plexus_migration_desc>() as u32, version: 1,
    name: cstr!("@name@ items"), dialect: cstr!("any"),
    sql: cstr!("CREATE TABLE @name@_items (item_id TEXT PRIMARY KEY, item TEXT NOT NULL, added_at BIGINT NOT NULL)"),
};
static MIGRATIONS: Table<*const plexus_migration_desc, 1> = Table([&MIGRATION]);
static DESCRIPTOR: plexus_plugin_desc = plexus_plugin_desc {
    struct_size: std::mem::size_of::<plexus_plugin_desc>() as u32,
    abi_major: PLEXUS_ABI_MAJOR, abi_minor: PLEXUS_ABI_MINOR,
    name: cstr!("@name@"), version: cstr!("0.1.0"),
    receptors: &RECEPTORS.0 as *const _ as *const *const plexus_receptor_desc, receptor_count: 1,
    perspectives: std::ptr::null(), perspective_count: 0,
    routes: &ROUTES.0 as *const _ as *const *const plexus_route_desc, route_count: 1,
    migrations: &MIGRATIONS.0 as *const _ as *const *const plexus_migration_desc, migration_count: 1,
};

#[no_mangle]
pub extern "C" fn plexus_plugin_entry_v1() -> *const plexus_plugin_desc {
    &DESCRIPTOR
}
