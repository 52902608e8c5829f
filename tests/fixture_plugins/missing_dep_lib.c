int plexus_test_dependency_value(void);
int plexus_test_dependency_value(void) { return 7; }
