print("opg: not built yet")
