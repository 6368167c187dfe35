//! The `lowspace` binary: everything lives in the library so tests can drive
//! the CLI in-process through an injected environment.

fn main() {
    let env = lowspace::cli::Env::from_process();
    let code = lowspace::cli::run(&env);
    std::process::exit(code);
}
