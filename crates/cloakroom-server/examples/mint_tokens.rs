//! Issues N distinct access tokens for one user with the signing key of a server's database,
//! one per line, for the N-distinct-tokens load curve (`bench/run.py`, targets `tokens-*`):
//! a real node sees many users' tokens, not one presented again and again.
//!
//! ```text
//! cargo run --release -p cloakroom-server --example mint_tokens -- CONFIG USERNAME N OUT
//! ```
//!
//! Run before `cloakroom serve` starts on the same config: the app it opens makes the signing
//! key if there is none yet, and the server then loads it.

use std::io::Write as _;
use std::path::PathBuf;

use cloakroom::session::SessionHandle;
use cloakroom::token::{TokenIssuer, TokenSubject};
use cloakroom_server::App;
use cloakroom_server::settings::{Overrides, Settings};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, username, n, out] = args.as_slice() else {
        eprintln!("usage: mint_tokens CONFIG USERNAME N OUT");
        std::process::exit(2);
    };
    let n: usize = n.parse().expect("N is a number");
    let settings =
        Settings::load(Some(&PathBuf::from(config)), &Overrides::default()).expect("the settings");
    let app = App::builder(settings.clone())
        .build()
        .await
        .expect("the app");
    let tokens = app.tokens().expect("a token mode (jwt or hybrid)");
    let user = app.user_admin().find(username).await.expect("the user");
    let issuer = TokenIssuer::new(
        tokens.keys().ring().clone(),
        settings.public_url.clone(),
        settings.jwt.audience.clone(),
        settings.access_ttl(),
    );
    let mut file = std::io::BufWriter::new(std::fs::File::create(out).expect("the output file"));
    for _ in 0..n {
        let subject = TokenSubject {
            user_id: user.id.clone(),
            name: user.username.to_string(),
            roles: user.roles.clone(),
            session: SessionHandle::generate().expect("randomness").to_string(),
        };
        let issued = issuer.issue(&subject).expect("a token");
        writeln!(file, "{}", issued.token.expose_secret()).expect("writing a token");
    }
    file.flush().expect("writing the tokens");
}
