//! Shared by the integration tests: a real `rill server` process on a free 127.0.0.1 port with
//! its own data directory, killed when dropped.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RillServer {
    pub addr: SocketAddr,
    pub data_dir: tempfile::TempDir,
    child: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RillServer {
    /// Starts `rill server` with extra flags and waits until it accepts connections.
    pub fn start(extra_args: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(data_dir.path().join("server.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rill"))
            .arg("server")
            .args(["--listeners", &format!("PLAINTEXT://{addr}")])
            .args(["--log-dirs", data_dir.path().to_str().unwrap()])
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("rill server starts");
        let mut server = Self {
            addr,
            data_dir,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("rill server exited with {status}: {}", server.log());
            }
            assert!(
                Instant::now() < deadline,
                "rill server did not listen on {addr}: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }
}

impl Drop for RillServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
