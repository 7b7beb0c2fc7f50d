//! Runs texts through the repetition guard as if they streamed (pieces of about a token) and
//! reports what it would cut: the measure behind the thresholds of `baton_llm::repetition`.
//!
//! ```text
//! repetition_corpus normal FILE...   # replies that must not be cut: lists every cut (false
//!                                    # positives) and the closest calls, with their margins
//! repetition_corpus loops FILE...    # replies that loop: where each one is cut, or that it
//!                                    # is not
//! ```
//!
//! `normal` also times the guard against the same stream without it (appending each piece to
//! the reply, as the client does anyway) and prints the ratio. `bench/repetition.sh` runs both
//! on the stored replies and on source files.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use baton_llm::repetition::{
    Closest, FLOOD_SPAN_TOKENS, MIN_REPEATS, MIN_SPAN_TOKENS, Repetition, RepetitionGuard,
};

/// Bytes per piece: about one token, as servers stream.
const PIECE_BYTES: usize = 4;
/// How often the closest call is measured, in bytes (the guard's own check interval).
const MEASURE_EVERY_BYTES: usize = 32;
/// Closest calls listed.
const CLOSEST_SHOWN: usize = 8;
/// Passes over the corpus when timing, to get above the clock's noise.
const TIMING_PASSES: usize = 3;

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let mut out = std::io::stdout().lock();
    let texts = read(&files, &mut out)?;
    match mode.as_str() {
        "normal" => normal(&texts, &mut out),
        "loops" => loops(&texts, &mut out),
        _ => Err("usage: repetition_corpus normal|loops FILE...".into()),
    }
}

/// The files that are UTF-8 text, with their names; others are skipped (and counted).
fn read(files: &[PathBuf], out: &mut impl Write) -> Result<Vec<(String, String)>, BoxError> {
    let mut texts = Vec::new();
    let mut skipped = 0;
    for file in files {
        match std::fs::read_to_string(file) {
            Ok(text) => texts.push((file.display().to_string(), text)),
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => skipped += 1,
            Err(error) => return Err(format!("cannot read {}: {error}", file.display()).into()),
        }
    }
    if skipped > 0 {
        writeln!(out, "skipped {skipped} files that are not UTF-8 text")?;
    }
    Ok(texts)
}

/// `text` in pieces of about [`PIECE_BYTES`], on character boundaries.
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = PIECE_BYTES.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// Streams `text` through a guard: the cut, if any, and the closest calls before it.
fn stream(text: &str, measure: bool) -> (Option<Repetition>, Closest) {
    let mut guard = RepetitionGuard::new();
    let mut closest = Closest::default();
    let mut unmeasured = 0;
    for piece in pieces(text) {
        if let Some(found) = guard.push(piece) {
            return (Some(found), closest);
        }
        unmeasured += piece.len();
        if measure && unmeasured >= MEASURE_EVERY_BYTES {
            unmeasured = 0;
            let now = guard.closest();
            keep_longer(&mut closest.substantive, now.substantive);
            keep_longer(&mut closest.flood, now.flood);
        }
    }
    (None, closest)
}

fn keep_longer(best: &mut Option<Repetition>, now: Option<Repetition>) {
    let tokens = |found: &Option<Repetition>| found.as_ref().map_or(0, |r| r.span_tokens);
    if tokens(&now) > tokens(best) {
        *best = now;
    }
}

fn normal(texts: &[(String, String)], out: &mut impl Write) -> Result<(), BoxError> {
    let bytes: usize = texts.iter().map(|(_, text)| text.len()).sum();
    writeln!(
        out,
        "{} texts, {:.1} MB, ~{} tokens; cut from {MIN_SPAN_TOKENS} tokens of a unit repeated \
         {MIN_REPEATS}+ times, {FLOOD_SPAN_TOKENS} of one without substance",
        texts.len(),
        bytes as f64 / 1e6,
        bytes / 4
    )?;
    let mut cuts = Vec::new();
    let mut substantive = Vec::new();
    let mut flood = Vec::new();
    for (name, text) in texts {
        let (cut, closest) = stream(text, true);
        if let Some(found) = cut {
            cuts.push((name, found));
        }
        if let Some(found) = closest.substantive {
            substantive.push((found.span_tokens, name, found));
        }
        if let Some(found) = closest.flood {
            flood.push((found.span_tokens, name, found));
        }
    }
    writeln!(out, "cut (false positives): {}", cuts.len())?;
    for (name, found) in &cuts {
        writeln!(out, "  {name}: {}", found.describe())?;
    }
    for (title, threshold, mut calls) in [
        ("substantive", MIN_SPAN_TOKENS, substantive),
        ("without substance", FLOOD_SPAN_TOKENS, flood),
    ] {
        calls.sort_by_key(|call| std::cmp::Reverse(call.0));
        let below: Vec<_> = calls.iter().filter(|call| call.0 < threshold).collect();
        let margin = below.first().map_or("none came close".to_owned(), |call| {
            format!("margin {:.2}x", threshold as f64 / call.0.max(1) as f64)
        });
        writeln!(
            out,
            "closest {title} repetitions not cut (threshold {threshold}; {margin}):"
        )?;
        for (tokens, name, found) in below.iter().take(CLOSEST_SHOWN) {
            writeln!(
                out,
                "  ~{tokens} tokens, {} copies of {:?}: {name}",
                found.repeats, found.unit
            )?;
        }
    }
    time(texts, out)?;
    Ok(())
}

/// Times the stream with and without the guard, best of [`TIMING_PASSES`].
fn time(texts: &[(String, String)], out: &mut impl Write) -> std::io::Result<()> {
    let bytes: usize = texts.iter().map(|(_, text)| text.len()).sum();
    let mut baseline = f64::MAX;
    let mut guarded = f64::MAX;
    for _ in 0..TIMING_PASSES {
        let started = Instant::now();
        let mut total = 0;
        for (_, text) in texts {
            let mut reply = String::new();
            for piece in pieces(text) {
                reply.push_str(piece);
            }
            total += reply.len();
        }
        std::hint::black_box(total);
        baseline = baseline.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        for (_, text) in texts {
            let mut reply = String::new();
            let mut guard = RepetitionGuard::new();
            for piece in pieces(text) {
                reply.push_str(piece);
                if guard.push(piece).is_some() {
                    break;
                }
            }
            std::hint::black_box(&reply);
        }
        guarded = guarded.min(started.elapsed().as_secs_f64());
    }
    let tokens = bytes as f64 / 4.0;
    writeln!(
        out,
        "time: with the guard {:.3} s ({:.2} us per token), without {:.3} s: {:.1}x",
        guarded,
        guarded / tokens * 1e6,
        baseline,
        guarded / baseline.max(f64::MIN_POSITIVE)
    )
}

fn loops(texts: &[(String, String)], out: &mut impl Write) -> Result<(), BoxError> {
    let mut missed = 0;
    for (name, text) in texts {
        let total = text.len().div_ceil(4);
        match stream(text, false).0 {
            Some(found) => writeln!(
                out,
                "  cut at ~{} of ~{total} tokens: {name}: {}",
                found.after_tokens,
                found.describe()
            )?,
            None => {
                missed += 1;
                writeln!(out, "  NOT CUT (~{total} tokens): {name}")?;
            }
        }
    }
    writeln!(
        out,
        "loops: {}, cut: {}, not cut: {missed}",
        texts.len(),
        texts.len() - missed
    )?;
    Ok(())
}
