"""One module per exercise notebook; each defines ``EXERCISES``, a list of :class:`~dlcourse.grading.spec.Exercise`.

A module is listed in ``MODULES`` under the stem of its notebook in ``solutions/``.
"""
MODULES = {
    "01_perceptron": "dlcourse.grading.bank.ex01_perceptron",
    "02_mlp": "dlcourse.grading.bank.ex02_mlp",
    "03_training": "dlcourse.grading.bank.ex03_training",
    "04_cnn": "dlcourse.grading.bank.ex04_cnn",
    "05_segmentation": "dlcourse.grading.bank.ex05_segmentation",
    "06_detection": "dlcourse.grading.bank.ex06_detection",
    "07_metric_learning": "dlcourse.grading.bank.ex07_metric_learning",
    "08_autoencoders": "dlcourse.grading.bank.ex08_autoencoders",
    "09_gans": "dlcourse.grading.bank.ex09_gans",
    "10_rnn": "dlcourse.grading.bank.ex10_rnn",
    "11_word_embeddings": "dlcourse.grading.bank.ex11_word_embeddings",
    "12_attention": "dlcourse.grading.bank.ex12_attention",
}
