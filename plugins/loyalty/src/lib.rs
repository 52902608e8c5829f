//! loyalty: the Rust plugin example. Customers earn one point per whole unit of currency they
//! order; the points are a read model of other services' events, and a route reads them.
//!
//!   OrderCreated (event)             -> award the order's points once (LoyaltyPointsAwarded)
//!   GET /api/loyalty/{customerId}    -> 200 {"customerId", "points"}
//!
//! Built with Debian's Rust 1.63 and serde_json from Debian's registry, against the hand-written
//! bindings in abi.rs (checked against plugin_abi.h by CTest). Every hook catches panics: nothing
//! unwinds into the host.
pub mod abi;

use abi::*;
use serde_json::{json, Value};
use std::ffi::c_void;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

struct Instance {
    api: *const plexus_host_api,
    host: *mut plexus_host,
}

fn s(text: &str) -> plexus_str {
    plexus_str { data: text.as_ptr() as *const c_char, size: text.len() }
}

unsafe fn text(v: plexus_str) -> String {
    if v.size == 0 {
        return String::new();
    }
    let bytes = std::slice::from_raw_parts(v.data as *const u8, v.size);
    String::from_utf8_lossy(bytes).into_owned()
}

fn int(v: i64) -> plexus_value {
    plexus_value { type_: PLEXUS_VALUE_INT64, reserved: 0, as_: plexus_value_as { i64_: v } }
}
fn txt(v: &str) -> plexus_value {
    plexus_value { type_: PLEXUS_VALUE_TEXT, reserved: 0, as_: plexus_value_as { text: s(v) } }
}

/// A failed host call or a bad input: the status to return and the reason to record.
struct Failure(plexus_status, String);

impl Instance {
    unsafe fn api(&self) -> &plexus_host_api {
        &*self.api
    }

    /// Runs one statement; returns the first column of every row as i64 (enough here).
    unsafe fn sql(&self, call: *mut plexus_call, statement: &str, params: &[plexus_value],
                  want_rows: bool) -> Result<Vec<i64>, Failure> {
        unsafe extern "C" fn row(user: *mut c_void, cols: *const plexus_value, n: usize) -> plexus_status {
            let rows = &mut *(user as *mut Vec<i64>);
            if n > 0 && (*cols).type_ == PLEXUS_VALUE_INT64 {
                rows.push((*cols).as_.i64_);
            }
            PLEXUS_OK
        }
        let mut rows: Vec<i64> = Vec::new();
        let status = (self.api().sql)(call, s(statement), params.as_ptr(), params.len(),
                                      if want_rows { Some(row) } else { None },
                                      &mut rows as *mut Vec<i64> as *mut c_void, std::ptr::null_mut());
        if status != PLEXUS_OK {
            return Err(Failure(status, text((self.api().last_error)(call))));
        }
        Ok(rows)
    }

    unsafe fn award(&self, call: *mut plexus_call, m: &plexus_message) -> Result<(), Failure> {
        let reject = |why: &str| Failure(PLEXUS_REJECT, format!("OrderCreated: {}", why));
        let payload: Value = serde_json::from_str(&text(m.payload)).map_err(|e| reject(&e.to_string()))?;
        let order = payload["orderId"].as_str().ok_or_else(|| reject("orderId must be a string"))?;
        let customer = payload["customerId"].as_str().ok_or_else(|| reject("customerId must be a string"))?;
        let total = payload["totalAmount"].as_f64().filter(|t| *t >= 0.0)
            .ok_or_else(|| reject("totalAmount must be a number >= 0"))?;
        let points = total.floor() as i64;
        let now = (self.api().now_unix_ms)(self.host);
        // One award per order: a redelivered OrderCreated inserts nothing and changes nothing.
        let fresh = self.sql(call,
            "INSERT INTO loyalty_awards (order_id, customer_id, points, awarded_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (order_id) DO NOTHING RETURNING points",
            &[txt(order), txt(customer), int(points), int(now)], true)?;
        if fresh.is_empty() {
            return Ok(());
        }
        let balance = self.sql(call,
            "INSERT INTO loyalty_points (customer_id, points, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (customer_id) DO UPDATE SET points = loyalty_points.points + excluded.points, \
             updated_at = excluded.updated_at RETURNING points",
            &[txt(customer), int(points), int(now)], true)?;
        let event = json!({"customerId": customer, "orderId": order, "points": points,
                           "balance": balance.first().copied().unwrap_or(points)}).to_string();
        let status = (self.api().emit)(call, s("LoyaltyPointsAwarded"), s(customer), s(&event));
        if status != PLEXUS_OK {
            return Err(Failure(status, text((self.api().last_error)(call))));
        }
        Ok(())
    }

    unsafe fn balance(&self, call: *mut plexus_call, r: &plexus_request) -> Result<(), Failure> {
        let mut customer = String::new();
        for i in 0..r.param_count {
            let p = &*r.params.add(i);
            if text(p.name) == "customerId" {
                customer = text(p.value);
            }
        }
        let rows = self.sql(call, "SELECT points FROM loyalty_points WHERE customer_id = $1",
                            &[txt(&customer)], true)?;
        let body = json!({"customerId": customer, "points": rows.first().copied().unwrap_or(0)}).to_string();
        (self.api().respond)(call, 200, s("application/json"), s(&body));
        Ok(())
    }
}

// [hooks]
/// The barrier: a Failure becomes its status and reason, a panic becomes REJECT.
unsafe fn guarded(instance: *mut c_void, call: *mut plexus_call,
                  f: impl FnOnce(&Instance) -> Result<(), Failure>) -> plexus_status {
    let this = &*(instance as *const Instance);
    match catch_unwind(AssertUnwindSafe(|| f(this))) {
        Ok(Ok(())) => PLEXUS_OK,
        Ok(Err(Failure(status, why))) => {
            (this.api().set_result)(call, s(&why));
            status
        }
        Err(_) => {
            (this.api().set_result)(call, s("loyalty: panic in a hook"));
            PLEXUS_REJECT
        }
    }
}

unsafe extern "C" fn create(api: *const plexus_host_api, host: *mut plexus_host) -> *mut c_void {
    Box::into_raw(Box::new(Instance { api, host })) as *mut c_void
}
unsafe extern "C" fn destroy(instance: *mut c_void) {
    drop(Box::from_raw(instance as *mut Instance));
}
unsafe extern "C" fn award_points(i: *mut c_void, call: *mut plexus_call, m: *const plexus_message) -> plexus_status {
    guarded(i, call, |this| this.award(call, &*m))
}
unsafe extern "C" fn get_balance(i: *mut c_void, call: *mut plexus_call, r: *const plexus_request) -> plexus_status {
    guarded(i, call, |this| this.balance(call, &*r))
}
// [/hooks]

// ---- the descriptor: statics, built at compile time ----

macro_rules! cstr {
    ($s:expr) => {
        concat!($s, "\0").as_ptr() as *const c_char
    };
}

struct Pointers<T: 'static, const N: usize>([*const T; N]);
unsafe impl<T, const N: usize> Sync for Pointers<T, N> {}
struct Names<const N: usize>([*const c_char; N]);
unsafe impl<const N: usize> Sync for Names<N> {}

// [descriptor]
static AWARD_TYPES: Names<1> = Names([cstr!("OrderCreated")]);
static AWARD_KINDS: [plexus_message_kind; 1] = [PLEXUS_MESSAGE_EVENT];
static AWARD: plexus_receptor_desc = plexus_receptor_desc {
    struct_size: std::mem::size_of::<plexus_receptor_desc>() as u32,
    reserved: 0,
    name: cstr!("AwardPoints"),
    message_types: &AWARD_TYPES.0 as *const _ as *const *const c_char,
    message_type_count: 1,
    create,
    handle: award_points,
    destroy,
    message_kinds: &AWARD_KINDS as *const _ as *const plexus_message_kind,
};
static RECEPTORS: Pointers<plexus_receptor_desc, 1> = Pointers([&AWARD]);
// [/descriptor]

static BALANCE: plexus_route_desc = plexus_route_desc {
    struct_size: std::mem::size_of::<plexus_route_desc>() as u32,
    reserved: 0,
    name: cstr!("GetPoints"),
    method: cstr!("GET"),
    path: cstr!("/api/loyalty/{customerId}"),
    create,
    handle: get_balance,
    destroy,
};
static ROUTES: Pointers<plexus_route_desc, 1> = Pointers([&BALANCE]);

static TABLES: plexus_migration_desc = plexus_migration_desc {
    struct_size: std::mem::size_of::<plexus_migration_desc>() as u32,
    version: 1,
    name: cstr!("loyalty points and awards"),
    dialect: cstr!("any"),
    sql: cstr!("CREATE TABLE loyalty_points (customer_id TEXT PRIMARY KEY, points BIGINT NOT NULL, \
                updated_at BIGINT NOT NULL);\
                CREATE TABLE loyalty_awards (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, \
                points BIGINT NOT NULL, awarded_at BIGINT NOT NULL)"),
};
static MIGRATIONS: Pointers<plexus_migration_desc, 1> = Pointers([&TABLES]);

static DESCRIPTOR: plexus_plugin_desc = plexus_plugin_desc {
    struct_size: std::mem::size_of::<plexus_plugin_desc>() as u32,
    abi_major: PLEXUS_ABI_MAJOR,
    abi_minor: PLEXUS_ABI_MINOR,
    name: cstr!("loyalty"),
    version: cstr!("1.0.0"),
    receptors: &RECEPTORS.0 as *const _ as *const *const plexus_receptor_desc,
    receptor_count: 1,
    perspectives: std::ptr::null(),
    perspective_count: 0,
    routes: &ROUTES.0 as *const _ as *const *const plexus_route_desc,
    route_count: 1,
    migrations: &MIGRATIONS.0 as *const _ as *const *const plexus_migration_desc,
    migration_count: 1,
};

/// The one symbol the host resolves.
#[no_mangle]
pub extern "C" fn plexus_plugin_entry_v1() -> *const plexus_plugin_desc {
    &DESCRIPTOR
}
