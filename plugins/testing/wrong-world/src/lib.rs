//! A component of another world: it exports a `greeter` interface and nothing of spillway:plugin.
//! The host must refuse it with a message that says what is missing.
wit_bindgen::generate!({
    inline: "
        package other:greeter@1.0.0;
        interface greeter { greet: func(name: string) -> string; }
        world wrong { export greeter; }
    ",
});

struct Greeter;

impl exports::other::greeter::greeter::Guest for Greeter {
    fn greet(name: String) -> String {
        format!("hello {name}")
    }
}

export!(Greeter);
