"""Cell-model maths shared by the adapters that integrate the models themselves."""
