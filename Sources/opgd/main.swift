print("opgd: not built yet")
