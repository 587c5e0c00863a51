"""Minimise f(x, y) = x^2 + 10 y^2 with RMSprop (the example of Sorix's RMSprop page).

RMSprop divides each step by a running average of squared gradients, so x
and y move at the same pace although y's gradient is ten times larger.
"""
from sorix import tensor
from sorix.optim import RMSprop

x = tensor([5.0], requires_grad=True)
y = tensor([5.0], requires_grad=True)
optimizer = RMSprop([x, y], lr=0.1)
for epoch in range(10):
    loss = x * x + tensor([10.0]) * y * y
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"Epoch {epoch+1}: x = {x.data[0]:.4f}, y = {y.data[0]:.4f}, loss = {loss.data[0]:.4f}")
