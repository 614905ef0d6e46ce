//! Gives the allocator's free pages back to the system at once. jemalloc (the `shop` binary's
//! allocator, unprefixed, so every binary that links this crate allocates with it) keeps freed
//! pages for a while to reuse them, and without allocation activity in an arena it may keep
//! them until the next: after a large short-lived job (an uploaded file and its check) the
//! process would go on holding memory it no longer uses.

/// Purges every jemalloc arena's unused dirty pages; on other platforms, nothing.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn mallctl(
                name: *const std::ffi::c_char,
                old: *mut std::ffi::c_void,
                old_len: *mut usize,
                new: *mut std::ffi::c_void,
                new_len: usize,
            ) -> i32;
        }
        // SAFETY: "arena.4096.purge" (4096: MALLCTL_ARENAS_ALL) reads and writes no value, so
        // every pointer may be null; the name is a NUL-terminated string.
        unsafe {
            mallctl(
                c"arena.4096.purge".as_ptr(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                0,
            );
        }
    }
}
