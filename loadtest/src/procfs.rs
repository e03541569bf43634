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

/// Clock ticks per second of `/proc` CPU times (`USER_HZ`, 100 on Linux).
pub const TICKS_PER_SEC: f64 = 100.0;

/// CPU time (user + system) process `pid` has used, in clock ticks.
pub fn process_cpu_ticks(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_process_ticks(&text)
}

/// utime + stime from the text of `/proc/<pid>/stat` (fields 14 and 15; the command name in
/// parentheses may contain spaces, so fields are counted after its closing parenthesis).
fn parse_process_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Busy and total clock ticks of the whole machine (all cores), from `/proc/stat`.
pub fn machine_cpu_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_machine_ticks(&text)
}

/// `(busy, total)` from the `cpu` line: busy is everything but idle and iowait.
fn parse_machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|n| n.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some((total - idle, total))
}

/// The number of CPUs the machine has.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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
    fn parses_cpu_times() {
        let stat = "1234 (tokio (x) y) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_process_ticks(stat), Some(300));
        let machine = "cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_machine_ticks(machine), Some((161, 981)));
        assert_eq!(parse_machine_ticks("intr 1 2\n"), None);
    }

    #[test]
    fn reads_own_status() {
        assert!(process_cpu_ticks(std::process::id()).is_some());
        assert!(machine_cpu_ticks().is_some_and(|(busy, total)| busy <= total && total > 0));
        assert!(vm_rss_kib(std::process::id()).is_some_and(|k| k > 0));
        assert!(open_files_limit().is_some_and(|n| n > 0));
    }
}
