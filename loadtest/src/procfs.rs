//! Server memory from `/proc/<pid>/status` (resident set size).

/// VmRSS of process `pid`, in KiB; `None` when the process or the field is not there.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&text)
}

/// Extracts `VmRSS:   1234 kB` from the text of a `/proc/<pid>/status` file.
fn parse_vm_rss(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The soft limit on open files of this process, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_rss() {
        let s = "Name:\twatchparty\nVmPeak:\t  99999 kB\nVmRSS:\t   52344 kB\nThreads: 3\n";
        assert_eq!(parse_vm_rss(s), Some(52_344));
        assert_eq!(parse_vm_rss("Name: x\n"), None);
    }

    #[test]
    fn reads_own_status() {
        assert!(vm_rss_kib(std::process::id()).is_some_and(|k| k > 0));
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }
}
