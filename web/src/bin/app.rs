fn main() {
    dynamoscope_web::app_main()
}
