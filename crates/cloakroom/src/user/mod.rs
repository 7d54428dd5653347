//! Users: who may sign in, the [`UserStore`] that keeps them, and argon2id password hashing.

mod memory;
mod model;
mod password;
mod store;

pub use memory::MemoryUserStore;
pub use model::{InvalidUsername, NewUser, User, Username};
pub use password::{
    HashParams, Password, PasswordError, PasswordHash, PasswordHasher, PasswordPolicy,
    PasswordRejected, Verification,
};
pub use store::UserStore;
