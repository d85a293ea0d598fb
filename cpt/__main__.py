from cpt.cli import app

app(prog_name="python -m cpt")
