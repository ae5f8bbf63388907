"""Example projects that use registry_project; the test suite runs each of them."""
