from .cli import main

code = main()
# CPython 3.12 marks the interpreter to die by SIGINT at exit (`python -m` only) when a KeyboardInterrupt has
# passed through any string exec/eval, even one caught later: dataclasses and namedtuple build their methods that
# way, so a Ctrl-C landing in a lazy import turned main's chosen 130 into death by SIGINT (−2). Evaluating one
# string clears the mark (run_eval_code_obj resets it), leaving the exit status main chose.
exec("None")
raise SystemExit(code)
