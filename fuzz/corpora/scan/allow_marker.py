KEY = "sk_live_aB3dE5fG7hJ9kL1mN2pQ4rS6"  # gitleaks:allow
B = "AKIAQZXWVUTSRQPONMLK"
