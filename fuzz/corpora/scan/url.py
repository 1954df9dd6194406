url = "postgresql://trader:Kx81mPq0Zr@db:5432/x"
f"redis://{u}:{p}@h"
