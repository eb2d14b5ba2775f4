"""Write the three worked-example notebooks (circles, digit9, fruit) with nbformat.

The notebooks are generated from this script so that their text and code can be
reviewed as Python. They are written without outputs; ``tests/test_notebooks.py``
executes them. Run it from anywhere::

    python examples/make_notebooks.py

Each notebook ends with the line ``test accuracy: <value>`` (the demos' last line).
"""

from __future__ import annotations

import copy
import pathlib
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent

SETUP = """\
%matplotlib inline
import numpy as np

import glassnet
from glassnet.utils import set_random_seed

print("glassnet", glassnet.__version__, "| numpy", np.__version__)"""


def md(text: str):
    return new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str):
    return new_code_cell(textwrap.dedent(text).strip())


def notebook(name: str, cells: list) -> nbformat.NotebookNode:
    cells = copy.deepcopy(cells)
    for number, cell in enumerate(cells):
        cell.id = f"{name}-{number:02d}"  # stable ids: regenerating gives the same file
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python"
    }
    nb.metadata["language_info"] = {"name": "python"}
    return nb


# ---------------------------------------------------------------------------------- circles
CIRCLES = [
    md(r"""
    # The circles network: 2 → 4 → 6 → 6 → 4 → 1

    The article *Deep Dive into Math Behind Deep Networks* asks a small network to
    separate two rings of points, a problem no straight line can solve. The network
    has five fully connected (`Dense`) layers of 4, 6, 6, 4 and 1 neurons: ReLU in the
    hidden layers and a sigmoid in the output, which gives the probability that a
    point belongs to the inner ring. It is trained with binary cross-entropy and Adam.

    Below is the article's Keras script with only the imports changed, and then
    everything the script does not show: the shapes, the equations of every layer,
    the training curves, the decision boundary and one example followed through the
    forward and backward pass with every number.
    """),
    code(SETUP),
    md(r"""
    ## The data

    $m = 1000$ points $\mathbf{x} = (x_1, x_2)$ on two noisy circles; the label is
    $y = 1$ for the inner circle and $y = 0$ for the outer one. 10 % of the points are
    held out to test the trained network. glassnet, like Keras and scikit-learn, keeps
    **one example per row**: `X` has shape $(m, n_x) = (m, 2)$.
    """),
    code("""
    from glassnet.datasets import make_circles, train_test_split

    X, y = make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.1, random_state=0)
    print("X_train", X_train.shape, " y_train", y_train.shape)
    print("X_test ", X_test.shape, " y_test ", y_test.shape)
    print("share of inner-circle points:", y.mean())
    """),
    md(r"""
    ## One neuron, one layer, m examples

    A single neuron takes the features $\mathbf{x}$ of one example, forms a weighted
    sum plus a bias and passes it through an activation function $g$:

    $$z = \mathbf{w}^\top \mathbf{x} + b = \sum_{j=1}^{n_x} w_j x_j + b,
      \qquad \hat{y} = a = g(z).$$

    A layer $l$ of $n^{[l]}$ neurons does this $n^{[l]}$ times. The articles stack the
    weight vectors $\mathbf{w}_i^\top$ as the rows of a matrix and compute the whole
    layer at once:

    $$\mathbf{z}^{[l]} = W^{[l]} \mathbf{a}^{[l-1]} + \mathbf{b}^{[l]},\qquad
      \mathbf{a}^{[l]} = g^{[l]}(\mathbf{z}^{[l]}),\qquad
      W^{[l]} : (n^{[l]}, n^{[l-1]}),\ \mathbf{b}^{[l]} : (n^{[l]}, 1),$$

    with $\mathbf{a}^{[0]} = \mathbf{x}$. For $m$ examples at once the articles stack
    the examples as **columns**, $X : (n_x, m)$ and $Z^{[l]} = W^{[l]} A^{[l-1]} + b^{[l]}$
    of shape $(n^{[l]}, m)$.

    glassnet stacks them as **rows** (as Keras, scikit-learn and NumPy do), so every
    equation is the articles' equation transposed and its `W` is the transpose of
    theirs:

    $$Z^{[l]} = A^{[l-1]}\, W^{[l]} + b^{[l]},\qquad A^{[l]} = g^{[l]}(Z^{[l]}),\qquad
      A^{[l-1]} : (m, n^{[l-1]}),\ W^{[l]} : (n^{[l-1]}, n^{[l]}),\
      Z^{[l]}, A^{[l]} : (m, n^{[l]}).$$
    """),
    md("""
    ## The model, with the Keras API

    This is the article's script; only the imports differ.
    """),
    code("""
    from glassnet.layers import Dense
    from glassnet.models import Sequential

    set_random_seed(0)  # glassnet's own seed: the initial weights and the shuffling
    model = Sequential()
    model.add(Dense(4, input_dim=2, activation='relu'))
    model.add(Dense(6, activation='relu'))
    model.add(Dense(6, activation='relu'))
    model.add(Dense(4, activation='relu'))
    model.add(Dense(1, activation='sigmoid'))
    model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    model.summary()
    """),
    md(r"""
    In a notebook the model shows itself as the same table in HTML. Each `Dense` layer
    has $n^{[l-1]} \cdot n^{[l]}$ weights and $n^{[l]}$ biases:
    $(2\cdot4+4) + (4\cdot6+6) + (6\cdot6+6) + (6\cdot4+4) + (4\cdot1+1) = 117$.
    """),
    code("model"),
    md("""
    `model.explain()` writes out, layer by layer, the equations this model computes
    and the shape of every array in them: forward propagation, the loss, backward
    propagation and the optimizer's update.
    """),
    code("model.explain()"),
    md(r"""
    ## Activation functions

    Without a non-linear $g$, five layers would collapse into one linear function and
    could never draw a circle. The hidden layers use ReLU, the output a sigmoid:

    $$\mathrm{relu}(z) = \max(0, z),\qquad
      \mathrm{relu}'(z) = \begin{cases}1 & z > 0\\ 0 & z \le 0\end{cases}$$

    $$\sigma(z) = \frac{1}{1 + e^{-z}},\qquad \sigma'(z) = \sigma(z)\,\bigl(1 - \sigma(z)\bigr)$$
    """),
    code("""
    from glassnet.viz import plot_activations

    plot_activations(['relu', 'sigmoid'])
    """),
    md(r"""
    ## The loss and how the network learns

    How far the predictions $\hat{y}_i = a^{[5]}_i$ are from the labels is measured by
    binary cross-entropy, averaged over the $m$ examples of a batch:

    $$J = -\frac{1}{m} \sum_{i=1}^{m}
      \Bigl[ y_i \log \hat{y}_i + (1 - y_i) \log(1 - \hat{y}_i) \Bigr].$$

    Backpropagation applies the chain rule from the last layer to the first. For a
    sigmoid output with this loss the derivatives cancel to $dZ^{[5]} = A^{[5]} - Y$;
    then, layer by layer (rows = examples),

    $$dW^{[l]} = \tfrac{1}{m} A^{[l-1]\top} dZ^{[l]},\quad
      db^{[l]} = \tfrac{1}{m} \textstyle\sum_{\text{rows}} dZ^{[l]},\quad
      dA^{[l-1]} = dZ^{[l]} W^{[l]\top},\quad
      dZ^{[l-1]} = dA^{[l-1]} \odot g'(Z^{[l-1]}).$$

    Gradient descent moves every parameter against its gradient, $W := W - \alpha\, dW$,
    $b := b - \alpha\, db$. Adam, the article's optimizer, does the same with a step
    scaled per parameter by running averages of the gradient and its square.
    `fit` repeats this for each mini-batch of 32 examples, 50 times over the data.
    """),
    code("history = model.fit(X_train, y_train, epochs=50, verbose=2)"),
    code("""
    from glassnet.viz import plot_history

    plot_history(history)
    """),
    md("""
    ## Evaluation

    The test points were never used for training.
    """),
    code("""
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    """),
    md("""
    The colour shows the probability the network gives to "inner circle" at every
    point of the plane; circles are training points, triangles test points.
    """),
    code("""
    from glassnet.viz import plot_decision_boundary

    plot_decision_boundary(model, X_train, y_train, X_test=X_test, y_test=y_test,
                           title='2-4-6-6-4-1 network after 50 epochs')
    """),
    md("""
    The trained network: line width is proportional to $|w|$, the colour is its sign.
    """),
    code("""
    from glassnet.viz import plot_network

    plot_network(model)
    """),
    md(r"""
    ## One example, every number

    `model.trace(x, y)` runs one test point forward and backward and prints each
    product and sum: $z = a_{\text{prev}} W + b$ per neuron, $a = g(z)$, the loss,
    $dZ = a - y$ at the output and the chain rule down to the first layer. With one
    example, $m = 1$.
    """),
    code("print(model.trace(X_test[0], y_test[0]))"),
    md(r"""
    ## Is backpropagation right?

    The gradients above can be compared with central finite differences of the loss,
    $\partial J / \partial \theta \approx
    \bigl(J(\theta + \epsilon) - J(\theta - \epsilon)\bigr) / 2\epsilon$,
    computed in float64 on a copy of the model.
    """),
    code("""
    from glassnet import gradient_check

    print(gradient_check(model, X_train[:64], y_train[:64], float64=True))
    """),
    md("""
    The final accuracy (printed above as `test accuracy`) is 0.97 or more for every
    data seed 0-9 with glassnet's defaults; `docs/keras-differences.md` explains the one
    default that differs from Keras and why.
    """),
]

# ---------------------------------------------------------------------------------- digit9
DIGIT9 = [
    md(r"""
    # "Is it a 9?": one sigmoid unit on MNIST pixels

    The article *What does a neural network actually do?* trains the smallest possible
    network, a single neuron with a sigmoid, to answer one question about a hand-written
    digit: is it a 9? With one sigmoid unit this is logistic regression, trained by
    forward propagation, backward propagation and gradient descent.

    A $28 \times 28$ image is read as a vector $\mathbf{x}$ of $n_x = 784$ pixel values
    in $[0, 1]$; the neuron computes

    $$z = \mathbf{w}^\top \mathbf{x} + b,\qquad \hat{y} = a = \sigma(z) = \frac{1}{1 + e^{-z}},$$

    the probability that the image is a 9.
    """),
    code(SETUP),
    md("""
    ## The data

    glassnet ships a 3,000-image slice of MNIST (300 of each digit), so nothing is
    downloaded. `binary_digit=9` turns the labels into $y = 1$ for a 9, else $y = 0$.
    """),
    code("""
    from glassnet.datasets import load_mnist, train_test_split

    X, y = load_mnist(binary_digit=9)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y,
                                                        random_state=0)
    print("X", X.shape, X.dtype, " pixel range", X.min(), "to", X.max())
    print("X_train", X_train.shape, " X_test", X_test.shape)
    print("share of 9s:", y.mean())
    """),
    code("""
    from matplotlib.figure import Figure

    images, digits = load_mnist(flatten=False, n_samples=10)
    figure = Figure(figsize=(10, 1.4))
    for ax, image, digit in zip(figure.subplots(1, 10), images, digits, strict=True):
        ax.imshow(image, cmap='gray_r')
        ax.set_title(f"{digit}: {'a 9' if digit == 9 else 'not 9'}", fontsize=9)
        ax.axis('off')
    figure
    """),
    md(r"""
    ## Forward propagation and the loss

    The computational graph is
    $\mathbf{x}, \mathbf{w}, b \to z \to a = \sigma(z) \to \mathcal{L}(y, a)$.
    The loss of one example is the log loss

    $$\mathcal{L}(y, \hat{y}) = -\bigl[ y \log \hat{y} + (1 - y) \log(1 - \hat{y}) \bigr],$$

    and the cost over $N$ training images is its mean,

    $$\mathcal{L}_N = -\frac{1}{N} \sum_{i=1}^{N}
      \bigl[ y_i \log \hat{y}_i + (1 - y_i) \log(1 - \hat{y}_i) \bigr].$$

    With the $m$ examples of a batch as rows of $X : (m, 784)$, glassnet computes
    $Z = X W + b$ with $W : (784, 1)$, the transpose of the articles' $\mathbf{w}^\top$.

    ## Backward propagation: the chain rule

    $$\frac{\partial \mathcal{L}}{\partial a} = -\frac{y}{a} + \frac{1 - y}{1 - a},\qquad
      \frac{\partial a}{\partial z} = a (1 - a)
      \quad\Longrightarrow\quad
      dz = \frac{\partial \mathcal{L}}{\partial z}
         = \frac{\partial \mathcal{L}}{\partial a}\,\frac{\partial a}{\partial z} = a - y,$$

    $$dw_j = \frac{\partial \mathcal{L}}{\partial w_j} = x_j\, dz,\qquad db = dz;
      \qquad\text{over a batch: } dW = \tfrac{1}{m} X^\top (A - Y),\quad
      db = \tfrac{1}{m} \textstyle\sum_i (a_i - y_i).$$

    ## Gradient descent

    $$W_{i+1} = W_i - \alpha \frac{\partial \mathcal{L}}{\partial W_i},\qquad
      b_{i+1} = b_i - \alpha \frac{\partial \mathcal{L}}{\partial b_i}.$$

    The article pictures it on a parabola, $f(x) = x^2$ on $[-10, 10]$: $f'(x) = 2x$, so
    each step is $x := x - \alpha \cdot 2x = (1 - 2\alpha)\,x$. A learning rate $\alpha$
    that is too small crawls, a good one converges to $x^* = 0$, one above 1 overshoots
    further at every step and diverges.
    """),
    code("""
    from glassnet.viz import plot_gradient_descent_1d

    plot_gradient_descent_1d()
    """),
    md("""
    ## The model

    One `Dense` unit with a sigmoid, plain stochastic gradient descent with $\\alpha = 0.1$
    on mini-batches of 32 images.
    """),
    code("""
    from glassnet.layers import Dense
    from glassnet.models import Sequential
    from glassnet.optimizers import SGD

    set_random_seed(0)
    model = Sequential([Dense(1, input_dim=X.shape[1], activation='sigmoid')])
    model.compile(loss='binary_crossentropy', optimizer=SGD(learning_rate=0.1),
                  metrics=['accuracy'])
    model.summary()
    """),
    code("model"),
    code("model.explain()"),
    md("""
    ## Training, and when to stop

    Gradient descent runs until a stopping criterion is met. The article lists the
    usual ones, and each is a callback in glassnet:

    | criterion | glassnet |
    |---|---|
    | total number of iterations | `fit(..., epochs=20)` |
    | execution time | `TimeLimit(seconds=...)` |
    | non-improving iterations | `EarlyStopping(monitor=..., patience=...)` |
    | optimal solution found (a bound reached) | `StopAtTarget(monitor=..., target=...)` |
    | the run diverged | `TerminateOnNaN()` |

    Here training stops after 20 epochs, or after 60 seconds, or once the training
    loss reaches 0.01, whichever comes first.
    """),
    code("""
    from glassnet.callbacks import StopAtTarget, TimeLimit

    stop = [TimeLimit(seconds=60), StopAtTarget(monitor='loss', target=0.01)]
    history = model.fit(X_train, y_train, epochs=20, batch_size=32, callbacks=stop, verbose=2)
    print("stopped because:", history.stopped_reason or "all 20 epochs ran")
    """),
    code("""
    from glassnet.viz import plot_history

    plot_history(history)
    """),
    md("""
    ## Evaluation, next to the lazy baseline

    Only a tenth of the digits are 9s, so a "model" that always answers *not a 9* is
    already right about 90 % of the time. The trained unit has to beat that, and the
    counts of hits and misses on the 9s tell more than the accuracy alone.
    """),
    code("""
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    predicted = (model.predict(X_test)[:, 0] > 0.5).astype(int)
    true_positives = int(np.sum((predicted == 1) & (y_test == 1)))
    print(f"9s found: {true_positives} of {int(y_test.sum())};",
          f"false alarms: {int(np.sum((predicted == 1) & (y_test == 0)))}")
    baseline = float(np.mean(y_test == 0))
    print(f"always 'not 9' baseline accuracy: {baseline:.4f}")
    print(f"test accuracy: {accuracy:.4f}")
    """),
    md(r"""
    ## What the neuron looks for

    The 784 weights drawn as a $28 \times 28$ image: red pixels push $z$ up (towards
    "a 9"), blue pixels push it down.
    """),
    code("""
    from glassnet.viz import plot_first_layer_weights

    plot_first_layer_weights(model, (28, 28))
    """),
    md("""
    ## One 9, every number

    The forward and backward pass of one test 9 (long vectors are summarised).
    """),
    code("""
    nine = int(np.flatnonzero(y_test == 1)[0])
    print(model.trace(X_test[nine], y_test[nine]))
    """),
]

# ---------------------------------------------------------------------------------- fruit
FRUIT = [
    md(r"""
    # The farmer's fruit: softmax over apples, bananas and oranges

    The beginners' article builds a network to help a farmer sort fruit into three
    classes from four measurements: weight (grams), colour (red, yellow, orange,
    green), texture (smooth, rough) and size (small, medium, large). Two ReLU hidden
    layers feed a **softmax** output layer of three neurons, one per fruit, whose
    activations are the three class probabilities.
    """),
    code(SETUP),
    md("""
    ## The data

    `make_fruit` simulates a harvest: one numeric column and three categorical ones.
    """),
    code("""
    from glassnet.datasets import make_fruit

    fruit = make_fruit(n_samples=600, random_state=0)
    print("   weight  colour   texture  size     fruit")
    for i in range(6):
        row = [fruit.data[name][i] for name in fruit.feature_names]
        print(f"{row[0]:7.1f} g  {row[1]:<7}  {row[2]:<7}  {row[3]:<7}  "
              f"{fruit.target_names[fruit.target[i]]}")
    """),
    md(r"""
    A network takes numbers, so each categorical column becomes **one-hot** columns
    (colour = red → $(0, 0, 1, 0)$ over green, orange, red, yellow) and the weight is
    standardised, $z = (w - \mu_w) / \sigma_w$. That gives $n_x = 1 + 4 + 2 + 3 = 10$
    input columns; `load_fruit_features` does exactly this.
    """),
    code("""
    from glassnet.datasets import load_fruit_features, train_test_split

    X, y = load_fruit_features(n_samples=600, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    print("X", X.shape, " first row:", np.round(X[0], 2))
    print("y", y.shape, " classes:", fruit.target_names, " counts:", np.bincount(y))
    """),
    md(r"""
    ## Softmax

    The output layer turns its three pre-activations $z_1, z_2, z_3$ into probabilities
    that sum to 1:

    $$a_k = \mathrm{softmax}(\mathbf{z})_k = \frac{e^{z_k}}{\sum_{j=1}^{3} e^{z_j}}.$$

    The article's example: raw outputs $(34, 32, 25)$ give the middle class
    $e^{32} / (e^{34} + e^{32} + e^{25}) \approx 0.12$.
    """),
    code("""
    from glassnet import activations

    softmax = activations.get('softmax')
    print(softmax.forward(np.array([[34.0, 32.0, 25.0]])).round(4))
    """),
    md(r"""
    ## The loss: categorical cross-entropy

    With the label as a one-hot row $\mathbf{y}$ (or, for *sparse* categorical
    cross-entropy, as the class number $c$):

    $$\ell = -\sum_{k=1}^{3} y_k \log a_k = -\log a_c,\qquad
      J = \frac{1}{m} \sum_{i=1}^{m} \ell_i.$$

    Its derivative through the softmax is, like sigmoid with binary cross-entropy,
    simply

    $$\frac{\partial \ell}{\partial z_k}
      = \sum_j \frac{\partial \ell}{\partial a_j}\frac{\partial a_j}{\partial z_k}
      = \sum_j \Bigl(-\frac{y_j}{a_j}\Bigr) a_j(\delta_{jk} - a_k) = a_k - y_k,
      \qquad dZ^{[3]} = A^{[3]} - Y.$$
    """),
    md("""
    ## The model

    10 inputs → 8 ReLU → 8 ReLU → 3 softmax, trained with Adam on mini-batches of 16.
    `sparse_categorical_crossentropy` takes the labels 0, 1, 2 as they are.
    """),
    code("""
    from glassnet.layers import Dense
    from glassnet.models import Sequential

    set_random_seed(0)
    model = Sequential([
        Dense(8, input_dim=X.shape[1], activation='relu'),
        Dense(8, activation='relu'),
        Dense(3, activation='softmax'),
    ])
    model.compile(loss='sparse_categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
    model.summary()
    """),
    code("model"),
    md("""
    The equations of this model, as LaTeX:
    """),
    code("model.explain(latex=True)"),
    md("""
    ## Training
    """),
    code("history = model.fit(X_train, y_train, epochs=60, batch_size=16, verbose=2)"),
    code("""
    from glassnet.viz import plot_history

    plot_history(history)
    """),
    md("""
    ## Evaluation

    Rows of the confusion matrix are the true fruit, columns the predicted one.
    """),
    code("""
    probabilities = model.predict(X_test)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((3, 3), dtype=int)
    np.add.at(confusion, (y_test, predicted), 1)
    print("          " + "  ".join(f"{name:>7}" for name in fruit.target_names))
    for name, row in zip(fruit.target_names, confusion, strict=True):
        print(f"{name:>8}  " + "  ".join(f"{count:7d}" for count in row))
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}")
    """),
    md("""
    ## One fruit, every number

    The first test fruit through the network: the softmax probabilities, the loss
    $-\\log a_c$ and $dZ = A - Y$ at the output, then the chain rule backwards.
    """),
    code("print(model.trace(X_test[0], y_test[0]))"),
    code("""
    from glassnet.viz import plot_network

    plot_network(model)
    """),
]


NOTEBOOKS = {"circles": CIRCLES, "digit9": DIGIT9, "fruit": FRUIT}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``examples/<name>.ipynb`` as it should be on disk (no outputs)."""
    nb = notebook(name, NOTEBOOKS[name])
    nbformat.validate(nb)
    return nb


def main() -> None:
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        nbformat.write(build(name), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
