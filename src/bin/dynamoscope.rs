fn main() {
    std::process::exit(dynamoscope::cli::main())
}
