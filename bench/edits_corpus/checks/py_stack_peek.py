from stack import Stack
s = Stack()
s.push(1)
s.push(2)
assert s.peek() == 2
assert s.pop() == 2
assert s.peek() == 1
