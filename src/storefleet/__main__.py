from storefleet.cli import main

main()
