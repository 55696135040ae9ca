//! The local server's allocator: mimalloc rather than glibc's. Under webhook
//! load glibc's malloc and free (with its consolidation of freed 15 KB bodies)
//! took a third of the server's time; see docs/performance.md.
//!
//! Out of the box mimalloc keeps what it frees: it commits its arena eagerly and
//! returns freed pages to the system a second later, so a server that had
//! handled a burst held three times the memory it used. Two options make it
//! hand memory back at once; they cost the webhook path a few per cent of CPU
//! (docs/performance.md, Tuning). An operator's `MIMALLOC_*` variables still win.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Linux only: the constructor section below is ELF's.
#[cfg(target_os = "linux")]
mod tuning {
    use std::ffi::{c_char, c_int, c_long};

    /// `mi_option_e` of the mimalloc v3 that `libmimalloc-sys` builds; the test
    /// below reads them back by name from the library itself.
    const ARENA_EAGER_COMMIT: c_int = 4;
    const PURGE_DELAY: c_int = 15;

    /// (option, its environment variable, the value OSA runs with)
    const TUNING: [(c_int, &std::ffi::CStr, c_long); 2] = [
        (ARENA_EAGER_COMMIT, c"MIMALLOC_ARENA_EAGER_COMMIT", 0),
        (PURGE_DELAY, c"MIMALLOC_PURGE_DELAY", 0),
    ];

    unsafe extern "C" {
        fn mi_option_set(option: c_int, value: c_long);
    }

    /// Arena options are read when mimalloc reserves its first arena, at the first
    /// allocation, which may come before `main`: so they are set by a constructor,
    /// which the loader runs before any Rust code.
    #[used]
    #[unsafe(link_section = ".init_array")]
    static TUNE_BEFORE_MAIN: extern "C" fn() = tune;

    extern "C" fn tune() {
        for (option, variable, value) in TUNING {
            // getenv, not std::env: nothing may allocate yet.
            // SAFETY: a NUL-terminated name; no thread exists yet to change the
            // environment, and an option is a plain store into mimalloc's table.
            let unset = unsafe { libc::getenv(variable.as_ptr() as *const c_char) }.is_null();
            if unset {
                unsafe { mi_option_set(option, value) };
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use std::ffi::{CStr, c_void};

        use super::*;

        type Output = extern "C" fn(msg: *const c_char, arg: *mut c_void);

        unsafe extern "C" {
            fn mi_options_print_out(out: Output, arg: *mut c_void);
        }

        extern "C" fn collect(msg: *const c_char, arg: *mut c_void) {
            // SAFETY: `arg` is the `String` passed below, `msg` a C string.
            let (printed, msg) = unsafe { (&mut *(arg as *mut String), CStr::from_ptr(msg)) };
            printed.push_str(&msg.to_string_lossy());
        }

        #[test]
        fn memory_is_handed_back_at_once_unless_the_environment_says_otherwise() {
            let mut printed = String::new();
            // SAFETY: `collect` only appends to `printed`, which outlives the call.
            unsafe { mi_options_print_out(collect, &mut printed as *mut String as *mut c_void) };
            for (option, variable, value) in TUNING {
                let name = variable
                    .to_str()
                    .expect("ascii")
                    .trim_start_matches("MIMALLOC_")
                    .to_lowercase();
                let expected = match std::env::var(variable.to_str().expect("ascii")) {
                    Ok(set) => set,
                    Err(_) => value.to_string(),
                };
                let line = format!("option '{name}': {expected} ");
                assert!(
                    printed.contains(&line),
                    "option {option} should be {name} = {expected}:\n{printed}"
                );
            }
        }
    }
}
