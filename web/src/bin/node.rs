fn main() {
    dynamoscope_web::node_main()
}
