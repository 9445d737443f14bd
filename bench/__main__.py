"""``python -m bench``: run the lossesbox benchmark suite."""

from bench.run import main

raise SystemExit(main())
