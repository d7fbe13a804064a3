//! Shared by the end-to-end benches: run a command and report its time and its own
//! peak RSS. The child is reaped by `wait4`, which reports that child's peak alone.
//! Call from a process that has not itself grown large (see benches/e2e.rs): a child
//! spawned with vfork inherits the spawner's peak.

use std::process::Command;
use std::time::Instant;

pub struct Run {
    pub secs: f64,
    pub rss_mib: f64,
    /// User + system CPU time: steadier than the wall time on a shared machine.
    #[allow(dead_code, reason = "read by the e2e bench, not by the import one")]
    pub cpu_secs: f64,
    /// Exit code; -1 when killed by a signal.
    pub code: i32,
}

#[allow(clippy::zombie_processes)]
pub fn run(cmd: &mut Command) -> Run {
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value; wait4 reaps our own child and
    // writes through valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    Run {
        secs: start.elapsed().as_secs_f64(),
        rss_mib: usage.ru_maxrss as f64 / 1024.0,
        cpu_secs: [usage.ru_utime, usage.ru_stime]
            .iter()
            .map(|t| t.tv_sec as f64 + t.tv_usec as f64 / 1e6)
            .sum(),
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
    }
}
