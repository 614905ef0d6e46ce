//! Profiles of a running shop for `go tool pprof`, behind the admin token:
//!
//! - `GET /debug/pprof/profile?seconds=N[&format=svg]`: a CPU profile sampled at 99 Hz for N
//!   seconds (default 30, at most 300) with the `pprof` crate, as gzip-compressed pprof protobuf
//!   (what Go's own `/debug/pprof/profile` serves), or as a flame graph SVG. One at a time: the
//!   sampler is process-wide (`setitimer(ITIMER_PROF)` and a SIGPROF handler), so a second
//!   request while one runs gets 409.
//! - `GET /debug/pprof/heap`: the live heap sampled by jemalloc (every 512 KiB allocated on
//!   average), as gzip-compressed pprof protobuf with symbol names. Only a process whose
//!   allocator is jemalloc with profiling switched on can answer (the `shop` binary, see
//!   `main.rs`); any other answers 501 saying so.
//!
//! Neither blocks the async runtime: the CPU profile waits with a tokio timer while the signal
//! handler samples, and the symbolising, encoding and heap dumps run on blocking threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::http::request::{query_params, require_admin};
use crate::http::wire::{ApiError, Format, Resp};
use crate::state::State;

/// Samples per second: not a divisor of common timer periods, like Go's 100 Hz but off-beat.
const FREQUENCY: i32 = 99;
const DEFAULT_SECONDS: u64 = 30;
const MAX_SECONDS: u64 = 300;

/// Set while a CPU profile runs.
static CPU_BUSY: AtomicBool = AtomicBool::new(false);

/// Clears `CPU_BUSY` when the profile ends, however it ends (also a client that hangs up).
struct Busy;

impl Busy {
    fn acquire() -> Option<Busy> {
        CPU_BUSY
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Busy)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        CPU_BUSY.store(false, Ordering::Release);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Pprof,
    Svg,
}

/// `GET /debug/pprof/profile`.
pub async fn cpu(state: &State, req: &Request<Incoming>) -> Resp {
    let format = Format::accepted(req.headers());
    match cpu_profile(state, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(format),
    }
}

/// `GET /debug/pprof/heap`.
pub async fn heap(state: &State, req: &Request<Incoming>) -> Resp {
    let format = Format::accepted(req.headers());
    match heap_profile(state, req).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(format),
    }
}

fn check_request(state: &State, req: &Request<Incoming>) -> Result<(), ApiError> {
    require_admin(state.admin_token(), req)?;
    if req.method() != Method::GET {
        return Err(ApiError::method_not_allowed("GET"));
    }
    Ok(())
}

fn parse_cpu_params(pairs: &[(String, String)]) -> Result<(u64, Output), ApiError> {
    let mut seconds = DEFAULT_SECONDS;
    let mut output = Output::Pprof;
    for (k, v) in pairs {
        match k.as_str() {
            "seconds" => {
                seconds = v
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=MAX_SECONDS).contains(s))
                    .ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "seconds must be a whole number from 1 to {MAX_SECONDS}, got {v:?}"
                        ))
                    })?
            }
            "format" => {
                output = match v.as_str() {
                    "pprof" | "proto" => Output::Pprof,
                    "svg" | "flamegraph" => Output::Svg,
                    _ => {
                        return Err(ApiError::bad_request(format!(
                            "format must be svg (a flame graph) or pprof (the default), got {v:?}"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    Ok((seconds, output))
}

async fn cpu_profile(state: &State, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    check_request(state, req)?;
    let (seconds, output) = parse_cpu_params(&query_params(req, &["seconds", "format"])?)?;
    let Some(busy) = Busy::acquire() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "profile_running",
            "a CPU profile is already being taken; only one runs at a time, retry when it is done",
        ));
    };
    // Starting resolves the profiler's lazy state (a first backtrace) and reads the loaded
    // libraries: blocking work.
    let guard = tokio::task::spawn_blocking(|| {
        pprof::ProfilerGuardBuilder::default()
            .frequency(FREQUENCY)
            // Unwinding from a signal that interrupted these libraries can deadlock or crash.
            .blocklist(&["libc", "libgcc", "pthread", "vdso"])
            .build()
    })
    .await
    .map_err(|e| ApiError::internal(format!("starting the CPU profiler: {e}")))?
    .map_err(|e| ApiError::internal(format!("starting the CPU profiler: {e}")))?;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let body = tokio::task::spawn_blocking(move || {
        let report = guard.report().build();
        drop(guard);
        drop(busy);
        let report = report.map_err(|e| format!("building the CPU profile: {e}"))?;
        match output {
            Output::Pprof => encode_pprof(&report),
            Output::Svg => flame_graph(&report, seconds),
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("building the CPU profile: {e}")))?
    .map_err(ApiError::internal)?;
    Ok(match output {
        Output::Pprof => binary(body, "cpu.pb.gz"),
        Output::Svg => ok("image/svg+xml", body, None),
    })
}

/// The report as pprof protobuf, gzip-compressed like Go's `/debug/pprof` endpoints. A report
/// without samples (an idle process) is still a valid, empty profile.
fn encode_pprof(report: &pprof::Report) -> Result<Bytes, String> {
    use pprof::protos::Message;
    let profile = report
        .pprof()
        .map_err(|e| format!("encoding the CPU profile: {e}"))?;
    gzip(&profile.encode_to_vec())
}

fn gzip(raw: &[u8]) -> Result<Bytes, String> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(raw)
        .and_then(|()| gz.finish())
        .map(Bytes::from)
        .map_err(|e| format!("compressing the profile: {e}"))
}

/// `jemalloc_pprof` names the frames in this process but flags only the one mapping (of the
/// several per file, one per segment) its first named address fell in. `go tool pprof` merges a
/// file's mappings into the first one, finds it unflagged and symbolises the whole binary again
/// from its debug info, which takes minutes for a debug build. This flags every mapping of a
/// file whose locations already carry names.
#[cfg(not(target_env = "msvc"))]
fn mark_symbolized(gz: &[u8]) -> Result<Bytes, String> {
    use pprof::protos::{Message, Profile};
    use std::collections::HashMap;
    use std::io::Read;
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .map_err(|e| format!("reading jemalloc's profile: {e}"))?;
    let mut profile =
        Profile::decode(raw.as_slice()).map_err(|e| format!("reading jemalloc's profile: {e}"))?;
    let file_of_mapping: HashMap<u64, i64> =
        profile.mapping.iter().map(|m| (m.id, m.filename)).collect();
    let has_file: HashMap<u64, bool> = profile
        .function
        .iter()
        .map(|f| {
            let name = usize::try_from(f.filename)
                .ok()
                .and_then(|i| profile.string_table.get(i));
            (f.id, name.is_some_and(|n| !n.is_empty()))
        })
        .collect();
    // Per file (string index): (has functions, has file names, has line numbers).
    let mut named: HashMap<i64, (bool, bool, bool)> = HashMap::new();
    for location in &profile.location {
        let Some(&file) = file_of_mapping.get(&location.mapping_id) else {
            continue;
        };
        for line in &location.line {
            let flags = named.entry(file).or_default();
            flags.0 = true;
            flags.1 |= has_file.get(&line.function_id) == Some(&true);
            flags.2 |= line.line > 0;
        }
    }
    for mapping in &mut profile.mapping {
        if let Some(&(functions, filenames, lines)) = named.get(&mapping.filename) {
            mapping.has_functions |= functions;
            mapping.has_filenames |= filenames;
            mapping.has_line_numbers |= lines;
        }
    }
    gzip(&profile.encode_to_vec())
}

fn flame_graph(report: &pprof::Report, seconds: u64) -> Result<Bytes, String> {
    if report.data.is_empty() {
        // inferno writes nothing for no samples; answer a small SVG that says so instead.
        return Ok(Bytes::from(format!(
            "<?xml version=\"1.0\" standalone=\"no\"?>\n\
             <svg version=\"1.1\" width=\"600\" height=\"60\" xmlns=\"http://www.w3.org/2000/svg\">\
             <text x=\"10\" y=\"35\" font-family=\"Verdana\" font-size=\"14\">\
             No CPU samples in {seconds} s: the process was idle.</text></svg>\n"
        )));
    }
    let mut options = pprof::flamegraph::Options::default();
    options.title = format!("CPU, {seconds} s at {FREQUENCY} Hz");
    options.count_name = "samples".to_owned();
    let mut svg = Vec::new();
    report
        .flamegraph_with_options(&mut svg, &mut options)
        .map_err(|e| format!("drawing the flame graph: {e}"))?;
    Ok(Bytes::from(svg))
}

async fn heap_profile(state: &State, req: &Request<Incoming>) -> Result<Resp, ApiError> {
    check_request(state, req)?;
    query_params::<&str>(req, &[])?;
    dump_heap().await.map(|body| binary(body, "heap.pb.gz"))
}

#[cfg(not(target_env = "msvc"))]
async fn dump_heap() -> Result<Bytes, ApiError> {
    let Some(ctl) = jemalloc_pprof::PROF_CTL.as_ref() else {
        return Err(heap_unavailable(
            "this process does not allocate with jemalloc with profiling switched on (only the \
             `shop` binary does: jemalloc as its global allocator and malloc_conf prof:true)",
        ));
    };
    let mut ctl = ctl.clone().lock_owned().await;
    if !ctl.activated() {
        return Err(heap_unavailable(
            "jemalloc heap profiling is switched off in this process (prof_active is false)",
        ));
    }
    tokio::task::spawn_blocking(move || {
        let gz = ctl.dump_pprof().map_err(|e| format!("{e:#}"))?;
        drop(ctl);
        mark_symbolized(&gz)
    })
    .await
    .map_err(|e| ApiError::internal(format!("dumping the heap profile: {e}")))?
    .map_err(|e| ApiError::internal(format!("dumping the heap profile: {e}")))
}

#[cfg(target_env = "msvc")]
async fn dump_heap() -> Result<Bytes, ApiError> {
    Err(heap_unavailable(
        "heap profiles need jemalloc, which this platform's build does not use",
    ))
}

fn heap_unavailable(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "heap_profiling_unavailable",
        format!("no heap profile: {why}"),
    )
}

fn binary(body: Bytes, filename: &str) -> Resp {
    ok(
        "application/octet-stream",
        body,
        Some(format!("attachment; filename=\"{filename}\"")),
    )
}

fn ok(content_type: &'static str, body: Bytes, disposition: Option<String>) -> Resp {
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store");
    if let Some(d) = disposition {
        resp = resp.header(header::CONTENT_DISPOSITION, d);
    }
    resp.body(Full::new(body)).expect("valid headers")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn seconds_and_format_are_checked() {
        assert_eq!(
            parse_cpu_params(&params(&[])).unwrap(),
            (DEFAULT_SECONDS, Output::Pprof)
        );
        assert_eq!(
            parse_cpu_params(&params(&[("seconds", "300"), ("format", "svg")])).unwrap(),
            (300, Output::Svg)
        );
        for bad in ["0", "301", "abc", "-1", "1.5", ""] {
            let e = parse_cpu_params(&params(&[("seconds", bad)])).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(e.message.contains("from 1 to 300"), "{}", e.message);
        }
        let e = parse_cpu_params(&params(&[("format", "png")])).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn an_idle_profile_is_still_a_valid_profile() {
        use pprof::protos::Message;
        use std::io::Read;
        let report = pprof::Report {
            data: Default::default(),
            timing: Default::default(),
        };
        let gz = encode_pprof(&report).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        let profile = pprof::protos::Profile::decode(raw.as_slice()).unwrap();
        assert!(profile.sample.is_empty());
        assert_eq!(profile.sample_type.len(), 2);
        let svg = String::from_utf8(flame_graph(&report, 1).unwrap().to_vec()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("No CPU samples in 1 s"));
    }

    #[test]
    fn only_one_cpu_profile_at_a_time() {
        let first = Busy::acquire().expect("free");
        assert!(Busy::acquire().is_none());
        drop(first);
        assert!(Busy::acquire().is_some());
    }
}
