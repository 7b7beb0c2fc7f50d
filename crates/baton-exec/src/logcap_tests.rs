//! Tests of the capped, timestamped log writer.
use super::*;
use pretty_assertions::assert_eq;

fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The text after the `2026-11-21T18:40:00.123Z ` prefix, checking its shape.
fn body(line: &str) -> &str {
    let (stamp, rest) = line.split_at(PREFIX_BYTES);
    let bytes = stamp.as_bytes();
    assert_eq!(bytes[4], b'-', "{line}");
    assert_eq!(bytes[10], b'T', "{line}");
    assert_eq!(bytes[19], b'.', "{line}");
    assert_eq!(&stamp[23..], "Z ", "{line}");
    assert!(stamp[20..23].bytes().all(|b| b.is_ascii_digit()), "{line}");
    rest
}

#[test]
fn each_line_gets_a_utc_timestamp_with_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let mut log = LogWriter::create(&path, 1 << 20).unwrap();
    log.write(b"one\ntwo\n").unwrap();
    let lines = lines_of(&path);
    assert_eq!(
        lines.iter().map(|line| body(line)).collect::<Vec<_>>(),
        ["one", "two"]
    );
}

#[test]
fn a_partial_line_waits_for_its_newline_or_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let mut log = LogWriter::create(&path, 1 << 20).unwrap();
    log.write(b"hel").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "");
    log.write(b"lo\nwor").unwrap();
    assert_eq!(
        lines_of(&path)
            .iter()
            .map(|line| body(line))
            .collect::<Vec<_>>(),
        ["hello"]
    );
    log.flush().unwrap();
    let lines = lines_of(&path);
    assert_eq!(
        lines.iter().map(|line| body(line)).collect::<Vec<_>>(),
        ["hello", "wor"]
    );
}

#[test]
fn a_line_without_end_is_broken_up_rather_than_held_forever() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let mut log = LogWriter::create(&path, 1 << 20).unwrap();
    log.write(&vec![b'x'; MAX_LINE_BYTES * 2 + 10]).unwrap();
    let lines = lines_of(&path);
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|line| body(line).len() == MAX_LINE_BYTES));
    assert!(log.partial.len() < MAX_LINE_BYTES);
}

#[test]
fn past_the_cap_the_file_keeps_the_head_a_marker_and_the_newest_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let cap = 8 * 1024;
    let mut log = LogWriter::create(&path, cap).unwrap();
    for number in 0..5_000 {
        log.write(format!("line {number}\n").as_bytes()).unwrap();
        assert!(fs::metadata(&path).unwrap().len() <= cap);
    }
    log.flush().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.len() as u64 <= cap, "{} > {cap}", text.len());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(body(lines[0]), "line 0");
    let marker = lines
        .iter()
        .position(|line| line.contains("bytes omitted"))
        .unwrap();
    assert!(lines[marker].starts_with("… ") && lines[marker].ends_with(" bytes omitted …"));
    assert_eq!(body(lines[marker - 1]), format!("line {}", marker - 1));
    assert_eq!(body(lines.last().unwrap()), "line 4999");
    // The head is about a quarter of the cap, the tail the rest.
    let head_bytes: usize = lines[..marker].iter().map(|line| line.len() + 1).sum();
    assert!(
        head_bytes as u64 <= cap / 4 && head_bytes as u64 > cap / 4 - 64,
        "{head_bytes}"
    );
    // The omitted count is exact: head + omitted + tail = everything written.
    let omitted: u64 = lines[marker].split(' ').nth(1).unwrap().parse().unwrap();
    let tail_bytes: usize = lines[marker + 1..].iter().map(|line| line.len() + 1).sum();
    let written: usize = (0..5_000)
        .map(|n| format!("line {n}\n").len() + PREFIX_BYTES)
        .sum();
    assert_eq!(
        head_bytes as u64 + omitted + tail_bytes as u64,
        written as u64
    );
    // Tail lines follow each other without a gap.
    let first_tail: usize = body(lines[marker + 1])[5..].parse().unwrap();
    assert_eq!(first_tail + (lines.len() - marker - 1) - 1, 4999);
}

#[test]
fn tail_text_starts_at_a_line_boundary_and_includes_the_partial_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let mut log = LogWriter::create(&path, 1 << 20).unwrap();
    log.write(b"first line\nsecond line\nthird").unwrap();
    // "second line" takes 37 bytes with its prefix, "third" 30: 70 is both, not the first.
    let tail = log.tail_text(70);
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), 2, "{tail:?}");
    assert_eq!(body(lines[0]), "second line");
    assert_eq!(body(lines[1]), "third");
    // Asking for more than there is gives everything.
    assert_eq!(log.tail_text(10_000).lines().count(), 3);
}

#[test]
fn tail_text_spans_the_marker_once_the_cap_is_reached() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let mut log = LogWriter::create(&path, 4096).unwrap();
    for number in 0..1_000 {
        log.write(format!("n{number}\n").as_bytes()).unwrap();
    }
    let tail = log.tail_text(100);
    assert!(tail.len() <= 100);
    assert_eq!(body(tail.lines().last().unwrap()), "n999");
    let whole = log.tail_text(1 << 20);
    assert!(whole.contains("bytes omitted"));
    assert_eq!(body(whole.lines().next().unwrap()), "n0");
}

#[test]
fn read_tail_gives_the_last_lines_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.log");
    let text: String = (0..10_000).map(|n| format!("row {n}\n")).collect();
    fs::write(&path, &text).unwrap();
    assert_eq!(read_tail(&path, 2).unwrap(), "row 9998\nrow 9999\n");
    assert_eq!(read_tail(&path, 0).unwrap(), "");
    fs::write(&path, "a\nb").unwrap();
    assert_eq!(read_tail(&path, 1).unwrap(), "b");
    assert_eq!(read_tail(&path, 5).unwrap(), "a\nb");
}
