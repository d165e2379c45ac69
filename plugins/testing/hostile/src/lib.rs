//! A plugin that misbehaves on purpose, for the sandbox tests. `mode` picks how:
//! - `loop`: spins forever on every batch (the host's CPU deadline must stop it);
//! - `memory`: allocates without end (the memory cap must stop it);
//! - `panic`: panics (a trap);
//! - `poison`: traps only on records whose value contains `poison` (bisection finds them);
//! - `file`, `socket`, `env`: tries to read /etc/hostname, connect to 127.0.0.1:9092, read the
//!   environment; fails each record with what happened (the host must deny all three).
use spillway_plugin_sdk::*;

struct Hostile {
    mode: String,
}

impl Plugin for Hostile {
    fn describe() -> Descriptor {
        Descriptor::new("hostile", "0.1.0")
            .doc("Misbehaves on purpose (sandbox tests).")
            .param(Param::string("mode").required().doc("loop, memory, panic, poison, file, socket or env."))
    }
    fn configure(config: &Config) -> Result<Self, String> {
        let mode = config.required("mode")?.to_string();
        match mode.as_str() {
            "loop" | "memory" | "panic" | "poison" | "file" | "socket" | "env" => Ok(Self { mode }),
            other => Err(format!("unknown mode '{other}'")),
        }
    }
}

impl Transform for Hostile {
    fn apply(&mut self, record: &Record<'_>) -> Result<Outcome, Error> {
        match self.mode.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("the hostile plugin panics, as asked"),
            "poison" => {
                let value = record.value().bytes().unwrap_or_default();
                if value.windows(6).any(|w| w == b"poison") {
                    std::process::abort();
                }
                Ok(Outcome::Keep)
            }
            "file" => match std::fs::read_to_string("/etc/hostname") {
                Ok(text) => Err(Error::new(format!("ESCAPED: read /etc/hostname: {text}"))),
                Err(e) => Err(Error::new(format!("denied: {e}"))),
            },
            "socket" => match std::net::TcpStream::connect("127.0.0.1:9092") {
                Ok(_) => Err(Error::new("ESCAPED: connected to 127.0.0.1:9092")),
                Err(e) => Err(Error::new(format!("denied: {e}"))),
            },
            "env" => {
                let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                if vars.is_empty() {
                    Err(Error::new("denied: the environment is empty"))
                } else {
                    Err(Error::new(format!("ESCAPED: environment {vars:?}")))
                }
            }
            _ => unreachable!("checked in configure"),
        }
    }
}

export_transform!(Hostile);
