from utils import slugify, shout
assert slugify('Hello World') == 'hello-world'
import io, contextlib, main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    main.main()
assert buf.getvalue().strip() == 'hello-world'
