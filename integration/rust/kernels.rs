//! Rust kernels for kiln's integration suite: compiled with
//! `rustc --emit=llvm-bc` into LLVM 22 bitcode, built into an image together
//! with a C file (rust_main.c) that calls them, and compared with the
//! same code built natively. `no_std` with wrapping arithmetic and raw
//! pointers, so the bitcode needs nothing from Rust's runtime.
#![no_std]

/// Sum of squares of `n` doubles at `x`.
#[no_mangle]
pub unsafe extern "C" fn rs_sum_squares(x: *const f64, n: usize) -> f64 {
    let mut s = 0.0;
    let mut i = 0;
    while i < n {
        let v = *x.add(i);
        s += v * v;
        i += 1;
    }
    s
}

/// FNV-1a over `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn rs_fnv1a(p: *const u8, n: usize) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    let mut i = 0;
    while i < n {
        h = (h ^ (*p.add(i) as u64)).wrapping_mul(0x100000001b3);
        i += 1;
    }
    h
}

/// Collatz steps of every number below `limit`, summed.
#[no_mangle]
pub extern "C" fn rs_collatz_total(limit: u64) -> u64 {
    let mut total: u64 = 0;
    let mut k: u64 = 1;
    while k < limit {
        let mut x = k;
        while x != 1 {
            x = if x % 2 == 0 { x / 2 } else { x.wrapping_mul(3).wrapping_add(1) };
            total = total.wrapping_add(1);
        }
        k += 1;
    }
    total
}

/// A struct passed by value across the language boundary.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RsPoint {
    pub x: i32,
    pub y: i32,
}

#[no_mangle]
pub extern "C" fn rs_point_mix(a: RsPoint, b: RsPoint) -> RsPoint {
    RsPoint { x: a.x.wrapping_mul(b.y), y: a.y.wrapping_sub(b.x) }
}

/// Calls back into C.
#[no_mangle]
pub extern "C" fn rs_apply(f: extern "C" fn(i64) -> i64, n: i64) -> i64 {
    let mut acc = 0i64;
    let mut i = 0;
    while i < n {
        acc = acc.wrapping_add(f(i));
        i += 1;
    }
    acc
}
