"""Test beds (the VyOS API emulator, OpenSSH, Open vSwitch) and the providers and host state tested against them."""
