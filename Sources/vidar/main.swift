print("vidar")
