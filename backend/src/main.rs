//! The `shop` binary: its allocator, then the command ([`backend::cli`]).

/// jemalloc is the allocator of this binary (and, unprefixed, of its C code too, librdkafka
/// included), with heap profiling on, so `/debug/pprof/heap` can answer.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options, read from this symbol (`malloc_conf`, since the allocator is
/// built unprefixed): profiling on and active, one sample per 2^19 bytes (512 KiB) allocated on
/// average, which costs little.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "malloc_conf")]
pub static malloc_conf: &[u8] = b"prof:true,prof_active:true,lg_prof_sample:19\0";

fn main() -> anyhow::Result<()> {
    backend::cli::main()
}
