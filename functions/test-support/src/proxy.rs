//! A TCP proxy that can be switched off and on, to take a server away from a
//! function (as a crashed or restarting database would) and give it back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct ToggleProxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    /// Bumped on every switch off; live connections end when it changes.
    cut: watch::Sender<u64>,
}

impl ToggleProxy {
    /// Forwards a free port on 127.0.0.1 to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let proxy = Self {
            address: listener.local_addr().expect("an address"),
            up: Arc::new(AtomicBool::new(true)),
            cut: watch::channel(0).0,
        };
        let accepting = proxy.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.up.load(Ordering::SeqCst) {
                    continue; // dropping the socket refuses the connection
                }
                let mut cut = accepting.cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Refuses new connections and cuts the open ones.
    pub fn switch_off(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    pub fn switch_on(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}
