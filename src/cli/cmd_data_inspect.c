/* cmd_data_inspect.c: `ima data inspect DIR`: counts, value ranges and a PNG contact sheet. */
int data_inspect(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return 2;
}
